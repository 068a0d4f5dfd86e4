"""Rendering: rich renderables built from report data. Never computes diagnoses, never imports torch."""
