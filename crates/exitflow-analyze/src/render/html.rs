//! The report as one self-contained HTML page: no script, nothing fetched.
use std::fmt::Write as _;

use serde_json::Value;

use super::document::document;
use super::svg::{bars_svg, columns_svg};
use super::*;
use crate::Report;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Rows of a table shown before the rest is folded (`<details>`).
pub const FOLD_ROWS: usize = 10;

/// Whether a cell reads as a number (right-aligned).
pub(super) fn numeric(c: &str) -> bool {
    !c.is_empty()
        && c.chars().any(|ch| ch.is_ascii_digit() || ch == '–')
        && c.chars()
            .all(|ch| ch.is_ascii_digit() || matches!(ch, '.' | ',' | '%' | '-' | '–' | '±' | ' '))
}

/// One row of cells (`td` or `th`), numeric columns right-aligned.
pub(super) fn html_cells(out: &mut String, cells: &[String], num: &[bool], tag: &str) {
    out.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let class = if num.get(i) == Some(&true) {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(out, "<{tag}{class}>{}</{tag}>", esc(c));
    }
    out.push_str("</tr>\n");
}

pub(super) fn html_rows(out: &mut String, rows: &[Vec<String>], num: &[bool]) {
    for r in rows {
        html_cells(out, r, num, "td");
    }
}

pub(super) fn html_head(out: &mut String, head: &[String], num: &[bool]) {
    out.push_str("<div class=\"scroll\"><table><thead>");
    html_cells(out, head, num, "th");
    out.push_str("</thead><tbody>\n");
}

/// A table: numbers right-aligned, text left; past [`FOLD_ROWS`] rows the
/// rest folded under a `<details>` (the Markdown keeps every row).
pub(super) fn html_table(out: &mut String, t: &Table) {
    let cols = t.head.len();
    let num: Vec<bool> = (0..cols)
        .map(|i| {
            let mut cells = t
                .rows
                .iter()
                .filter_map(|r| r.get(i))
                .filter(|c| !c.is_empty());
            let mut any = false;
            let all = cells.all(|c| {
                any = true;
                numeric(c)
            });
            any && all
        })
        .collect();
    html_head(out, &t.head, &num);
    let shown = if t.fold {
        t.rows.len().min(FOLD_ROWS)
    } else {
        t.rows.len()
    };
    html_rows(out, &t.rows[..shown], &num);
    out.push_str("</tbody></table></div>\n");
    if t.rows.len() > shown {
        let _ = writeln!(
            out,
            "<details><summary>{} more rows</summary>",
            t.rows.len() - shown
        );
        html_head(out, &t.head, &num);
        html_rows(out, &t.rows[shown..], &num);
        out.push_str("</tbody></table></div></details>\n");
    }
    if let Some(n) = &t.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
    }
}

pub(super) fn html_block(body: &mut String, b: &Block) {
    match b {
        Block::Para(p) => {
            let _ = writeln!(body, "<p>{}</p>", esc(p));
        }
        Block::Warning(p) => {
            let _ = writeln!(body, "<p class=\"warning\">{}</p>", esc(p));
        }
        Block::Table(t) => html_table(body, t),
        Block::Chart(Chart::Bars {
            title,
            items,
            total,
            unit,
        }) => {
            body.push_str(&bars_svg(title, items, *total, unit));
        }
        Block::Chart(Chart::Columns {
            title,
            labels,
            values,
            unit,
        }) => {
            body.push_str(&columns_svg(title, labels, values, unit));
        }
        Block::Nodes(nodes) => {
            // A switch without script: radio buttons, and CSS showing the
            // panel of the one checked.
            body.push_str("<style>.node-panel{display:none}.node-switch label{margin-right:1em;cursor:pointer}.node-switch input{margin-right:.2em}");
            for i in 0..nodes.len() {
                let _ = write!(body, "#node-{i}:checked~#node-panel-{i}{{display:block}}");
            }
            body.push_str("</style><div class=\"node-switch\">\n");
            for (i, (name, _)) in nodes.iter().enumerate() {
                let _ = writeln!(
                    body,
                    "<input type=\"radio\" name=\"node\" id=\"node-{i}\"{}><label for=\"node-{i}\">{}</label>",
                    if i == 0 { " checked" } else { "" },
                    esc(name)
                );
            }
            for (i, (name, blocks)) in nodes.iter().enumerate() {
                let _ = writeln!(
                    body,
                    "<div class=\"node-panel\" id=\"node-panel-{i}\"><h3>{}</h3>",
                    esc(name)
                );
                for b in blocks {
                    html_block(body, b);
                }
                body.push_str("</div>\n");
            }
            body.push_str("</div>\n");
        }
    }
}

/// The report as one self-contained HTML page, from its JSON.
pub fn html_from_json(j: &Value) -> String {
    let (intro, sections) = document(j);
    let mut body = String::new();
    let _ = writeln!(body, "<h1>{}</h1>", esc(title(j)));
    for p in intro.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let class = if p.starts_with("SYNTHETIC") {
            " class=\"warning\""
        } else {
            ""
        };
        let _ = writeln!(body, "<p{class}>{}</p>", esc(p.trim()));
    }
    body.push_str("<nav><h2>Contents</h2><ol>\n");
    for sec in &sections {
        let _ = writeln!(
            body,
            "<li><a href=\"#{}\">{}</a></li>",
            esc(&sec.id),
            esc(&sec.title)
        );
    }
    body.push_str("</ol></nav>\n");
    for sec in &sections {
        let _ = writeln!(
            body,
            "<section id=\"{}\"><h2>{}</h2>",
            esc(&sec.id),
            esc(&sec.title)
        );
        for b in &sec.blocks {
            html_block(&mut body, b);
        }
        body.push_str("</section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>{}</title><style>body{{font-family:sans-serif;max-width:960px;margin:1em auto;padding:0 1em;line-height:1.4}}table{{border-collapse:collapse;font-size:14px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}}.n{{text-align:right;white-space:nowrap}}summary{{cursor:pointer;margin:.3em 0}}.scroll{{overflow-x:auto}}.note{{color:#555;font-size:13px}}.warning{{background:#fff3cd;border:1px solid #c9a227;padding:.5em}}figure{{margin:1em 0}}figure svg{{max-width:640px;height:auto}}figcaption{{font-weight:bold}}@media (min-width:700px){{nav ol{{columns:2}}}}</style></head><body>\n{}</body></html>\n",
        esc(title(j)),
        body
    )
}

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> String {
    html_from_json(&json(r))
}
