//! The report as Markdown: literal text wherever traffic put it.
use std::fmt::Write as _;

use serde_json::Value;

use super::document::document;
use super::*;
use crate::Report;

pub(super) fn md_table(out: &mut String, t: &Table) {
    let _ = writeln!(
        out,
        "| {} |",
        t.head
            .iter()
            .map(|h| md_text(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}|",
        t.head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(|c| md_text(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    if let Some(n) = &t.note {
        let _ = writeln!(out, "{}\n", md_prose(n));
    }
}

/// The report as Markdown, from its JSON.
pub fn markdown_from_json(j: &Value) -> String {
    let (intro, sections) = document(j);
    let mut out = format!("# {}\n\n", title(j));
    for line in intro.lines() {
        let _ = writeln!(out, "{}", md_prose(line));
    }
    out.push('\n');
    out.push_str("Contents: ");
    out.push_str(
        &sections
            .iter()
            .map(|s| md_text(&s.title))
            .collect::<Vec<_>>()
            .join(" · "),
    );
    out.push_str("\n\n");
    for sec in &sections {
        let _ = writeln!(out, "## {}\n", md_text(&sec.title));
        for b in &sec.blocks {
            md_block(&mut out, b);
        }
    }
    out
}

pub(super) fn md_block(out: &mut String, b: &Block) {
    match b {
        Block::Para(p) => {
            let _ = writeln!(out, "{}\n", md_prose(p));
        }
        Block::Warning(p) => {
            let _ = writeln!(out, "> **Warning:** {}\n", md_prose(p));
        }
        Block::Table(t) => md_table(out, t),
        // The table beside each chart holds its numbers.
        Block::Chart(_) => {}
        Block::Nodes(nodes) => {
            for (name, blocks) in nodes {
                let _ = writeln!(out, "### {}\n", md_text(name));
                for b in blocks {
                    md_block(out, b);
                }
            }
        }
    }
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    markdown_from_json(&json(r))
}

/// Characters that can start inline Markdown (emphasis, code, links,
/// images, autolinks, HTML, entities, strikethrough, table cells).
pub(super) const MD_INLINE: &[char] =
    &['\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '@'];

/// Text (from traffic: user-agents, content types, labels) as literal
/// Markdown inside a table cell: every character that can start inline
/// Markdown is backslash-escaped (CommonMark renders an escaped punctuation
/// character as itself), so are the colon of `://` and the dot of `www.`
/// (GitHub's autolinks), and line breaks and control characters become
/// spaces. Nothing in it can become HTML, a link or an image; parentheses,
/// `!` and other colons need no escape once `[`, `]` and `<` have one.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let after_www =
            out.len() >= 3 && out.as_bytes()[out.len() - 3..].eq_ignore_ascii_case(b"www");
        let scheme = c == ':' && rest.starts_with("//");
        if MD_INLINE.contains(&c) || (c == '.' && after_www) || scheme {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The report's own sentences (which may quote node names, labels and
/// numbers) as Markdown: the characters that can make emphasis, code,
/// links, images or HTML are escaped, punctuation of prose is not.
pub(super) fn md_prose(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\`*_[]<>|~&!".contains(c) {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    // GitHub's autolinks start at "www." and "://".
    out.replace("www.", "www\\.").replace("://", ":\\/\\/")
}
