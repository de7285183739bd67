"""Generation tasks, batches of identical options under a token budget, and retry in halves."""

from __future__ import annotations

import dataclasses
import gc
import logging
import sys
import time
from dataclasses import dataclass

from summarize.backends import Backend, GenerateOptions, Generation
from summarize.records import Article, Stage

__all__ = ["Task", "by_owner", "generate", "limit_origin"]

log = logging.getLogger(__name__)

# The shortest input of a batch is at least this fraction of its longest.
_BUCKET_SPREAD = 0.5
# Errors one batch's inputs can cause: out of memory (torch.cuda.OutOfMemoryError and
# CTranslate2's errors are RuntimeErrors), an input too long or odd for the model (IndexError,
# ValueError). Retrying in halves confines them to the article at fault. Any other exception
# (TypeError, AttributeError, AssertionError, KeyError...) is a mistake in the code: retrying
# would only turn it into one failed article after another, so it stops the run.
_INPUT_ERRORS = (RuntimeError, ValueError, IndexError, MemoryError)
# RuntimeErrors that are never the input's fault.
_CODE_ERRORS = (NotImplementedError, RecursionError)


@dataclass(eq=False)
class Task:
    """One model input on behalf of one article; ``index`` says where its output goes.

    ``index`` is the paragraph of a translated text, or the chunk of a summary round.
    """

    owner: Article
    index: int
    text: str
    tokens: int
    options: GenerateOptions
    result: Generation | None = None
    # How this output joins the previous one of its paragraph (see chunking.reassemble).
    glue: str = " "
    #: its length limit was lowered to what the model can generate
    capped: bool = False


def generate(tasks: list[Task], backend: Backend, batch_tokens: int, stage: Stage) -> None:
    """Run all tasks through the model in length-sorted batches of at most ``batch_tokens``."""
    for task in tasks:
        _fit_to_model(task, _room(task, backend))
    for batch in _batches(tasks, batch_tokens):
        _generate_batch(batch, backend, stage)


def limit_origin(task: Task, setting: str) -> str:
    """What set a task's length limit, for a warning that it was reached."""
    tokens = task.options.max_new_tokens
    if task.capped:
        return f"{tokens} tokens, all the model can generate"
    return f"{tokens} tokens, from {setting}"


def by_owner(tasks: list[Task]) -> dict[Article, list[Task]]:
    """The tasks of each article, in their order."""
    owners: dict[Article, list[Task]] = {}
    for task in tasks:
        owners.setdefault(task.owner, []).append(task)
    return owners


def _room(task: Task, backend: Backend) -> int:
    """The most new tokens ``backend`` can generate after the task's input: its decoder's
    positions, or what a decoder-only model's context leaves after the prompt."""
    if not backend.context_tokens:
        return backend.max_output_tokens
    return max(1, min(backend.max_output_tokens, backend.context_tokens - task.tokens))


def _fit_to_model(task: Task, most: int) -> None:
    """Lower a task's length limit to what the model has positions for; count it in the sidecar.

    A longer limit (e.g. a translation's ratio x source + extra near the input limit) would
    fail the article once its output ran past the model's last position.
    """
    options = task.options
    if options.max_new_tokens <= most:
        return
    task.options = dataclasses.replace(
        options, max_new_tokens=most, min_new_tokens=min(options.min_new_tokens, most)
    )
    task.capped = True
    task.owner.counts.capped()


def _batches(tasks: list[Task], batch_tokens: int) -> list[list[Task]]:
    """Batches of tasks with the same options, widest first, so that an out-of-memory error
    shows up at once. Options are never merged: a task's output must not depend on what else
    its batch holds.
    """
    groups: dict[GenerateOptions, list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.options, []).append(task)
    batches = [b for group in groups.values() for b in _by_length(group, batch_tokens)]
    return sorted(batches, key=lambda b: b[0].tokens, reverse=True)


def _by_length(tasks: list[Task], batch_tokens: int) -> list[list[Task]]:
    """Similar lengths together: a batch decodes until its longest output is done, so a short
    input batched with a long one pays for the long one's steps.
    """
    ordered = sorted(tasks, key=lambda t: t.tokens, reverse=True)
    batches: list[list[Task]] = []
    current: list[Task] = []
    for task in ordered:
        # Sorted descending, so the first task of a batch is its widest one.
        width = current[0].tokens if current else task.tokens
        too_many = width * (len(current) + 1) > batch_tokens
        if current and (too_many or task.tokens < width * _BUCKET_SPREAD):
            batches.append(current)
            current = []
        current.append(task)
    if current:
        batches.append(current)
    return batches


def _generate_batch(batch: list[Task], backend: Backend, stage: Stage) -> None:
    """Generate for one batch; on an error an input can cause, retry in halves, so that one
    bad input fails only its article. Any other error is a mistake in the code: it propagates.
    """
    live = [t for t in batch if t.owner.error is None]
    if not live:
        return
    started = time.perf_counter()
    try:
        results = backend.generate([t.text for t in live], live[0].options)
    except _INPUT_ERRORS as exc:
        if isinstance(exc, _CODE_ERRORS):
            raise
        reason, out_of_memory = str(exc) or type(exc).__name__, _is_out_of_memory(exc)
    else:
        seconds = time.perf_counter() - started
        log.debug("%s: a batch of %d inputs in %.3f s", stage.value, len(live), seconds)
        _share_time(live, stage, seconds)
        for task, result in zip(live, results, strict=True):
            task.result = result
        return
    # Out of the except block, so the failed batch's tensors (held by the traceback) can go.
    if out_of_memory:
        _free_device_memory()
    if len(live) > 1:
        log.info("%s: batch of %d failed (%s); retrying in halves", stage.value, len(live), reason)
        middle = len(live) // 2
        _generate_batch(live[:middle], backend, stage)
        _generate_batch(live[middle:], backend, stage)
    else:
        live[0].owner.fail(f"{live[0].owner.name}: {stage.value} failed: {reason}")


def _is_out_of_memory(exc: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError and CTranslate2's CUDA errors are RuntimeErrors saying so.
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def _free_device_memory() -> None:
    """Give the CUDA memory torch caches back before a retry; never imports torch itself."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _share_time(tasks: list[Task], stage: Stage, seconds: float) -> None:
    """A batch serves several articles: each is charged by its share of the input tokens."""
    total = sum(t.tokens for t in tasks) or 1
    for task in tasks:
        task.owner.add_time(stage, seconds * task.tokens / total)
