// Stable Diffusion in Swift (DESIGN.md layer 3).
