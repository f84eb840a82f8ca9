"""Design spaces: many models of one spec, costed fast (``netcost sweep`` / ``netcost fit``)."""
