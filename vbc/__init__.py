"""The engine of the shared VBC performance dashboard."""
