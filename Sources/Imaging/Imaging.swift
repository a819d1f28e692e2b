// Image decode/encode and grids: see issue "Service" (preflight).
