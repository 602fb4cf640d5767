//! Charts as inline SVG, drawn by deskpulse: no script, no network, the same bytes for the same outputs. Each
//! mark carries its figure in `data-value` (full precision), so that a test can read the numbers back from
//! the rendered page.

use std::fmt::Write;

const WIDTH: f64 = 760.0;
const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/// One line of a line chart: (x label, y) points, in x order.
pub struct Series {
    pub name: String,
    pub points: Vec<(String, f64)>,
}

/// One bar of a bar chart: a value, an optional interval drawn as a whisker, an optional reference drawn as a
/// tick, and a flag (a low sample) drawn hatched and named in the label.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub interval: Option<(f64, f64)>,
    pub reference: Option<f64>,
    pub flagged: bool,
}

/// Text for an element or an attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A figure in the units people read: durations as 45 s, 30 min, 4.2 h, 2.1 d; shares as 87.5 %; counts with
/// thousands separators; other figures with up to two decimals.
pub fn human(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let trim = |x: f64, decimals: usize| {
        let text = format!("{x:.decimals$}");
        match text.contains('.') {
            true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
            false => text,
        }
    };
    match unit {
        "seconds" => {
            let a = value.abs();
            match a {
                _ if a < 60.0 => format!("{} s", trim(value, 0)),
                _ if a < 3600.0 => format!("{} min", trim(value / 60.0, if a < 600.0 { 1 } else { 0 })),
                _ if a < 86_400.0 => format!("{} h", trim(value / 3600.0, 1)),
                _ => format!("{} d", trim(value / 86_400.0, 1)),
            }
        },
        "percent" => format!("{} %", trim(value, 1)),
        "count" if value.fract() == 0.0 => grouped(value),
        // Money and large figures: whole units, in thousands; cents only below 100.
        _ if value.abs() >= 100.0 && (unit == "currency" || value.abs() >= 10_000.0) => grouped(value.round()),
        _ => trim(value, 2),
    }
}

/// A whole number with thousands separators: 545,542.
fn grouped(value: f64) -> String {
    let digits = format!("{}", value.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A figure for a person: thousands as `12.3k`, small numbers with up to two decimals.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// How an axis in `unit` reads: durations in the unit their size calls for (seconds, minutes, hours, days),
/// as (seconds per shown unit, the unit's name); other units as they are.
fn axis_unit(unit: &str, hi: f64) -> (f64, String) {
    match unit {
        "seconds" if hi >= 2.0 * 86_400.0 => (86_400.0, "days".into()),
        "seconds" if hi >= 2.0 * 3600.0 => (3600.0, "hours".into()),
        "seconds" if hi >= 120.0 => (60.0, "minutes".into()),
        _ => (1.0, unit.to_string()),
    }
}

/// Round ticks covering `[lo, hi]` in the unit shown (`scale` seconds each), as raw values.
fn scaled_ticks(lo: f64, hi: f64, scale: f64) -> Vec<f64> {
    ticks(lo / scale, hi / scale).into_iter().map(|t| t * scale).collect()
}

/// About five round steps covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (lo / step).ceil() * step;
    (0..=12).map(|i| first + i as f64 * step).take_while(|t| *t <= hi + step * 1e-9).collect()
}

/// The y range of a chart: from zero (or the lowest value, if negative) to the highest, with some headroom.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let hi = if hi <= lo { lo + 1.0 } else { hi + (hi - lo) * 0.05 };
    (lo, hi)
}

/// Lines over shared x labels (periods, sorted as text: ISO dates sort in time).
pub fn line_chart(title: &str, unit: &str, series: &[Series]) -> String {
    let (height, left, right, top, bottom) = (300.0, 64.0, 40.0, 16.0, 60.0);
    let mut xs: Vec<&str> = series.iter().flat_map(|s| s.points.iter().map(|(x, _)| x.as_str())).collect();
    xs.sort_unstable();
    xs.dedup();
    let (lo, hi) = range(series.iter().flat_map(|s| s.points.iter().map(|(_, y)| *y)));
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let x_of = |x: &str| {
        let i = xs.iter().position(|v| *v == x).unwrap_or(0) as f64;
        left + if xs.len() > 1 { i * plot_w / (xs.len() - 1) as f64 } else { plot_w / 2.0 }
    };
    let y_of = |y: f64| top + plot_h * (1.0 - (y - lo) / (hi - lo));
    let mut svg = open(title, height);
    let (scale, shown_unit) = axis_unit(unit, hi);
    axis_y(&mut svg, &scaled_ticks(lo, hi, scale), scale, &shown_unit, left, WIDTH - right, &y_of);
    // Every label if they fit, else about ten.
    let every = xs.len().div_ceil(10).max(1);
    for x in xs.iter().step_by(every) {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x_of(x),
            height - bottom + 16.0,
            escape(x)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let d: Vec<String> = s
            .points
            .iter()
            .enumerate()
            .map(|(j, (x, y))| format!("{}{:.1},{:.1}", if j == 0 { 'M' } else { 'L' }, x_of(x), y_of(*y)))
            .collect();
        let name = escape(&s.name);
        let _ = write!(svg, r#"<path class="line" d="{}" stroke="{color}" data-series="{name}"/>"#, d.join(""));
        for (x, y) in &s.points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}" data-series="{name}" data-x="{}" data-value="{y}"><title>{name} {}: {}</title></circle>"#,
                x_of(x),
                y_of(*y),
                escape(x),
                escape(x),
                human(*y, unit)
            );
        }
        // The legend: four a row, two rows.
        let (lx, ly) = (left + (i % 4) as f64 * 170.0, height - 24.0 + (i / 4 % 2) as f64 * 14.0);
        let _ = write!(
            svg,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{color}"/><text class="legend" x="{:.1}" y="{ly:.1}">{name}</text>"#,
            ly - 9.0,
            lx + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one a row, with their intervals and references.
pub fn bar_chart(title: &str, unit: &str, bars: &[Bar]) -> String {
    let (row, left, right, top, bottom) = (22.0, 260.0, 24.0, 8.0, 36.0);
    let height = top + bottom + row * bars.len().max(1) as f64;
    let values = bars.iter().flat_map(|b| {
        let (l, h) = b.interval.unwrap_or((b.value, b.value));
        [b.value, l, h, b.reference.unwrap_or(b.value)]
    });
    let (lo, hi) = range(values);
    let plot_w = WIDTH - left - right;
    let x_of = |v: f64| left + plot_w * (v - lo) / (hi - lo);
    let mut svg = open(title, height);
    let (scale, shown_unit) = axis_unit(unit, hi);
    for t in scaled_ticks(lo, hi, scale) {
        let x = x_of(t);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            height - bottom,
            height - bottom + 14.0,
            short(t / scale)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="unit" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        WIDTH - right,
        height - 4.0,
        escape(&shown_unit)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = top + i as f64 * row;
        let (x0, x1) = (x_of(lo.max(0.0).min(b.value)), x_of(b.value.max(lo.max(0.0))));
        let (shown, label) = (escape(&clip(&b.label, 40)), escape(&b.label));
        let class = if b.flagged { "bar flagged" } else { "bar" };
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{shown}{}</text><rect class="{class}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" data-label="{label}" data-value="{}"><title>{label}: {}</title></rect>"#,
            left - 6.0,
            y + row * 0.68,
            if b.flagged { " *" } else { "" },
            y + 3.0,
            (x1 - x0).max(0.5),
            row - 6.0,
            b.value,
            human(b.value, unit)
        );
        if let Some((l, h)) = b.interval {
            let mid = y + row / 2.0;
            let _ = write!(
                svg,
                r#"<line class="interval" x1="{:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" data-low="{l}" data-high="{h}"/>"#,
                x_of(l),
                x_of(h)
            );
        }
        if let Some(r) = b.reference {
            let x = x_of(r);
            let _ = write!(
                svg,
                r#"<line class="reference" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" data-reference="{r}"/>"#,
                y + 1.0,
                y + row - 1.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// `text` cut to `max` characters, with an ellipsis.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn open(title: &str, height: f64) -> String {
    format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}">"#,
        escape(title)
    )
}

fn axis_y(svg: &mut String, ticks: &[f64], scale: f64, unit: &str, x0: f64, x1: f64, y_of: &dyn Fn(f64) -> f64) {
    for t in ticks {
        let y = y_of(*t);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            y + 4.0,
            short(*t / scale)
        );
    }
    let _ = write!(svg, r#"<text class="unit" x="4" y="12">{}</text>"#, escape(unit));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 100.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(0.0, 7.0), [0.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn every_point_is_a_mark_with_its_value() {
        let s =
            Series { name: "chat <1>".into(), points: vec![("2025-01-01".into(), 1.5), ("2025-02-01".into(), 3.0)] };
        let svg = line_chart("t", "count", &[s]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(r#"data-value="1.5""#) && svg.contains(r#"data-value="3""#));
        assert!(svg.contains("chat &lt;1&gt;"), "names are escaped");
    }

    #[test]
    fn bars_draw_their_interval_and_reference() {
        let bars = [
            Bar { label: "a".into(), value: 80.0, interval: Some((75.0, 85.0)), reference: Some(90.0), flagged: false },
            Bar { label: "b".into(), value: 60.0, interval: None, reference: None, flagged: true },
        ];
        let svg = bar_chart("t", "percent", &bars);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches(r#"class="interval""#).count(), 1);
        assert!(svg.contains(r#"data-reference="90""#));
        assert!(svg.contains("bar flagged") && svg.contains("b *"));
    }

    #[test]
    fn human_figures() {
        assert_eq!(human(1800.0, "seconds"), "30 min");
        assert_eq!(human(15_120.0, "seconds"), "4.2 h");
        assert_eq!(human(181_440.0, "seconds"), "2.1 d");
        assert_eq!(human(45.0, "seconds"), "45 s");
        assert_eq!(human(87.5, "percent"), "87.5 %");
        assert_eq!(human(1234.0, "count"), "1,234");
        assert_eq!(human(545_541.56, "currency"), "545,542");
        assert_eq!(human(96.5, "currency"), "96.5");
        assert_eq!(human(12_345.678, "ratio"), "12,346");
        assert_eq!(human(-0.13, "ratio"), "-0.13");
        assert_eq!(axis_unit("seconds", 800_000.0).1, "days");
    }

    #[test]
    fn short_figures() {
        assert_eq!(short(12345.0), "12.3k");
        assert_eq!(short(84.25), "84.25");
        assert_eq!(short(3.0), "3");
        assert_eq!(short(0.5), "0.5");
    }
}
