"""The analytic core: shapes, costs and receptive fields. Never imports torch."""
