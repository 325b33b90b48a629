"""Facts about a page screenshot (Pillow): its size, how far down something
is drawn, and whether anything is drawn in the rightmost MARGIN pixels (a
page wider than the window: text or a table running off the screen).

usage: check_screenshot.py PNG MARGIN
prints: width height last_drawn_row right_margin_pixels
"""
import sys

from PIL import Image

img = Image.open(sys.argv[1]).convert("RGB")
margin = int(sys.argv[2])
w, h = img.size
px = img.load()
bg = px[w - 1, h - 1]


def drawn(x, y):
    r, g, b = px[x, y]
    return abs(r - bg[0]) + abs(g - bg[1]) + abs(b - bg[2]) > 30


last = 0
for y in range(0, h, 4):
    if any(drawn(x, y) for x in range(0, w, 3)):
        last = y
right = sum(1 for y in range(0, h, 2) for x in range(w - margin, w) if drawn(x, y))
print(w, h, last, right)
