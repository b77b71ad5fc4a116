"""The person's rights over their data: erase everything or one thing (everywhere it was kept) and export it all."""
