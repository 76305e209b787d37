"""Language-model backends behind one small Protocol (see ``base``)."""
