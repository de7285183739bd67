"""The review page's stylesheet, inline in every page: two columns, one on a phone, no fonts.

Arabic is set in the first font of a stack with Arabic coverage that the reader's machine has
(the page loads none); the checkbox rules on ``#only-flagged`` filter with CSS alone.
"""

from __future__ import annotations

__all__ = ["ARABIC_FONTS", "CSS"]

ARABIC_FONTS = '"Noto Naskh Arabic","Amiri","Geeza Pro","Noto Sans Arabic","DejaVu Sans",Arial'

CSS = f"""
*{{box-sizing:border-box}}
html{{-webkit-text-size-adjust:100%}}
body{{margin:0 auto;max-width:1400px;padding:0 16px 48px;color:#1c1c1c;background:#fff;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;
overflow-wrap:anywhere;word-break:normal}}
h1{{font-size:1.5em;margin:.8em 0 .3em}} h2{{font-size:1.15em;margin:1.2em 0 .4em}}
[lang=ar]{{font-family:{ARABIC_FONTS},sans-serif;font-size:1.12em;line-height:1.8}}
.ar{{text-align:right}}
table.counts{{border-collapse:collapse}}
table.counts td,table.counts th{{padding:2px 6px 2px 0;text-align:left}}
table.counts td{{padding-right:18px}}
table.counts tr{{display:flex;flex-wrap:wrap;align-items:center}}
.facts{{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr));gap:0 32px}}
.badge{{display:inline-block;padding:0 8px;border-radius:9px;font-size:.85em;font-weight:600;
background:#e8e8e8;color:#333;white-space:nowrap}}
.st-flagged .badge,.badge.st-flagged{{background:#ffd666;color:#4d3800}}
.st-failed .badge,.badge.st-failed{{background:#b3261e;color:#fff}}
.st-out-of-date .badge,.badge.st-out-of-date{{background:#c7d7f5;color:#12306b}}
.st-done .badge,.badge.st-done{{background:#cdebd3;color:#114d1f}}
section{{border:1px solid #ddd;border-radius:6px;margin:10px 0;padding:0 12px}}
section.st-flagged{{border-color:#e0b400}} section.st-failed{{border-color:#b3261e}}
details>summary{{cursor:pointer;padding:8px 0;font-weight:600}}
.reason{{font-weight:400;color:#555}}
.pair{{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:2px 28px;
border-top:1px solid #eee;padding:6px 0}}
.pair>p{{margin:0;min-width:0}}
.pair.removed>p{{grid-column:1/-1;color:#8a1c1c}}
.pair.removed small{{color:#777}}
p.flagged{{background:#fff8dc}} p.ar.flagged{{border-right:4px solid #e0b400;padding-right:6px}}
mark{{background:#ffe08a;color:inherit}} mark.repaired{{background:#d7f0d7}}
.check{{display:block;font-size:.85em;font-weight:600;color:#6b4e00}}
.summary{{background:#f6f7f9;border-radius:6px;padding:6px 10px;margin:6px 0}}
.label{{font-size:.8em;color:#666;text-transform:uppercase;letter-spacing:.04em}}
.notes{{color:#7a4100}}
code{{font-size:.9em;background:#f2f2f2;padding:0 3px}}
.filter{{margin:12px 0;display:inline-block}}
#only-flagged:checked~main section:not(.st-flagged){{display:none}}
#only-flagged:checked~main ul.all>li:not(.st-flagged){{display:none}}
svg text{{font:12px system-ui,Arial,sans-serif;fill:#333}}
@media (max-width:700px){{.pair{{grid-template-columns:minmax(0,1fr)}}
body{{padding:0 10px 32px}}}}
"""
