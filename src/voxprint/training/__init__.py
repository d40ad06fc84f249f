"""Training and fine-tuning speaker encoders (``voxprint train``); see ``loop.train``."""
