"""Operator tools for a deployed stack: redrive failed objects, backfill existing ones."""
