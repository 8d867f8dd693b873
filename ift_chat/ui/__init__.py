"""The Gradio UI: one module per tab, one shared conversation-pane component."""
