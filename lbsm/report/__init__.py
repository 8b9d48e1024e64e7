"""Layer 6, rendering only: tables, figures, the generated sentences, the verdicts and the
status rows, from what the layers below computed. Nothing here trains or solves."""
