//! Inline SVG charts: horizontal bars, and columns over ordered labels.
use std::fmt::Write as _;

use super::html::{esc, truncate};
use super::*;

/// Width of the charts' drawing (they scale down to the page with viewBox).
pub(super) const CHART_W: usize = 520;

/// Horizontal bars with a value axis, each bar's value and share written.
pub(super) fn bars_svg(title: &str, items: &[(String, u64)], total: u64, unit: &str) -> String {
    if items.iter().all(|x| x.1 == 0) {
        return format!(
            "<figure><figcaption>{}</figcaption><p class=\"note\">No flows to chart.</p></figure>\n",
            esc(title)
        );
    }
    let max = items.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let (left, width) = (150usize, 260usize);
    let h = 22 * items.len() + 50;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {CHART_W} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title)
    );
    for (i, (name, n)) in items.iter().enumerate() {
        let y = 10 + 22 * i;
        let w = (width as f64 * *n as f64 / max as f64).max(1.0);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#3b6ea8\"><title>{} {}</title></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{} ({:.1}%)</text>",
            left - 6,
            y + 12,
            esc(&truncate(name, 22)),
            esc(name),
            n,
            left as f64 + w + 4.0,
            y + 12,
            n,
            pct(*n, total)
        );
    }
    // The value axis: a line with ticks at 0, half and the maximum.
    let ya = 10 + 22 * items.len() + 4;
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{ya}\" x2=\"{}\" y2=\"{ya}\" stroke=\"#555\"/>",
        left + width
    );
    for (frac, v) in [(0.0, 0), (0.5, max / 2), (1.0, max)] {
        let x = left as f64 + frac * width as f64;
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{ya}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#555\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{v}</text>",
            ya + 4,
            ya + 16
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
        left + width / 2,
        ya + 28,
        esc(unit)
    );
    s.push_str("</svg></figure>\n");
    s
}

/// Columns over ordered labels, with a value axis and each column's value.
pub(super) fn columns_svg(title: &str, labels: &[String], values: &[f64], unit: &str) -> String {
    let n = values.len().max(1);
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-9);
    let (left, top, plot_h) = (48.0, 16.0, 150.0);
    let step = (CHART_W as f64 - left - 10.0) / n as f64;
    // Hour labels (`YYYY-MM-DD HH:00`) as `MM-DD HH h`: the year is in the
    // table, and long rotated labels ran off the chart.
    let labels: Vec<String> = labels
        .iter()
        .map(|l| match (l.get(5..10), l.get(11..13), l.len()) {
            (Some(md), Some(hh), 16) if l.ends_with(":00") => format!("{md} {hh} h"),
            _ => l.clone(),
        })
        .collect();
    // Labels run level under their columns (9 px type, ≤ 5.5 px a
    // character), every `every`-th one where they would touch.
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let h = top + plot_h + 32.0;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {CHART_W} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title)
    );
    let base = top + plot_h;
    // Value axis with three ticks, and the unit.
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{base}\" stroke=\"#555\"/><line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#555\"/>",
        CHART_W - 10
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = base - frac * plot_h;
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{left}\" y2=\"{y:.1}\" stroke=\"#555\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            left - 4.0,
            left - 6.0,
            y + 3.0,
            fmt_value(frac * max, unit)
        );
    }
    let _ = write!(
        s,
        "<text x=\"10\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(-90 10 {:.1})\" text-anchor=\"middle\">{}</text>",
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        esc(unit)
    );
    // Rotated labels of adjacent columns stand 0.71 × their spacing apart:
    // at least 10 px for 9 px type.
    let every = ((5.5 * longest + 6.0) / step).ceil().max(1.0) as usize;
    let values_fit = values
        .iter()
        .all(|v| 5.5 * fmt_value(*v, unit).chars().count() as f64 <= step - 2.0);
    for (i, v) in values.iter().enumerate() {
        let bh = plot_h * v / max;
        let x = left + 2.0 + step * i as f64;
        let w = (step - 2.0).max(1.0);
        let label = labels.get(i).map_or("", String::as_str);
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{bh:.1}\" fill=\"#6a9f58\"><title>{} {}</title></rect>",
            base - bh,
            esc(label),
            fmt_value(*v, unit)
        );
        // Values over the columns only where every one fits its column
        // (8 px type, ≤ 5.5 px a character): never over a neighbour's.
        let text = fmt_value(*v, unit);
        if values_fit {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"8\" text-anchor=\"middle\">{}</text>",
                x + w / 2.0,
                base - bh - 2.0,
                text
            );
        }
        // The last label centred on its column must stay inside the chart.
        let half = 2.75 * label.chars().count() as f64;
        if i % every == 0 && x + w / 2.0 + half <= CHART_W as f64 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                x + w / 2.0,
                base + 17.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg></figure>\n");
    s
}

pub(super) fn fmt_value(v: f64, unit: &str) -> String {
    if unit == "%" {
        format!("{v:.1}%")
    } else {
        format!("{}", v.round() as u64)
    }
}
