// The tensor engine (DESIGN.md layer 1): see issue "Tensor engine".
