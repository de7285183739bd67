"""Runners drive the stages over the articles of a run: ``local`` on one machine, in waves."""
