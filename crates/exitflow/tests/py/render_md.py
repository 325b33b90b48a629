"""Renders a Markdown file with markdown-it (CommonMark, tables,
strikethrough and linkify as GitHub does) and prints the HTML."""
import sys

from markdown_it import MarkdownIt

md = MarkdownIt("gfm-like")
print(md.render(open(sys.argv[1], encoding="utf-8").read()))
