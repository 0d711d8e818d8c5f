//! The SVG of a picture: background, every LA in view filled with its measure colour and
//! outlined as in the web map's style, the highlighted LAs, name labels placed without overlap,
//! a title, the legend and the attribution.
//!
//! The root element carries `data-origin`, `data-scale` and `data-map-area`, the exact mapping
//! from Web Mercator metres to pixels, so tests (and other tools) can find any place in it.

use std::fmt::Write as _;

use super::geometry::{Frame, Rect, england_bounds, la_bounds, la_rings, label_point};
use super::measure::{BACKGROUND, FILL_OPACITY, OUTLINE, SELECTED, SIMILAR};
use super::text::{esc, width, wrap};
use super::{Picture, View};
use crate::dataset::Dataset;
use crate::tileset::ATTRIBUTION;

/// Text colour (the style's `text-color`).
const INK: &str = "#1b1b1b";
/// Secondary text colour.
const MUTED: &str = "#4a4a4a";
/// Box border colour (the web map's legend border).
const LINE: &str = "#c8c8c8";

/// Linear interpolation over `(zoom, value)` stops, clamped at both ends (MapLibre's
/// `["interpolate", ["linear"], ["zoom"], …]`).
fn interpolate(z: f64, stops: &[(f64, f64)]) -> f64 {
    let (first, last) = (stops[0], stops[stops.len() - 1]);
    if z <= first.0 {
        return first.1;
    }
    if z >= last.0 {
        return last.1;
    }
    stops.windows(2).find(|w| z <= w[1].0).map_or(last.1, |w| {
        let t = (z - w[0].0) / (w[1].0 - w[0].0);
        w[0].1 + t * (w[1].1 - w[0].1)
    })
}

/// One decimal, without a trailing `.0`.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// A coordinate kept in tenths of a pixel, written with at most one decimal.
fn tenths(v: i64) -> String {
    let (sign, a) = if v < 0 { ("-", -v) } else { ("", v) };
    if a % 10 == 0 {
        format!("{sign}{}", a / 10)
    } else {
        format!("{sign}{}.{}", a / 10, a % 10)
    }
}

/// The SVG path data of LA `la` at zoom `z` in `frame`: rings rounded to 0.1 px, repeated
/// points dropped, rings that collapse below three points left out.
fn path_data(ds: &Dataset, la: usize, z: u8, frame: &Frame) -> String {
    let mut d = String::new();
    let mut pts: Vec<(i64, i64)> = Vec::new();
    for ring in la_rings(ds, la, z) {
        pts.clear();
        for p in ring {
            let [x, y] = frame.px(p);
            #[allow(clippy::cast_possible_truncation)]
            let q = ((x * 10.0).round() as i64, (y * 10.0).round() as i64);
            if pts.last() != Some(&q) {
                pts.push(q);
            }
        }
        while pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        if pts.len() < 3 {
            continue;
        }
        for (k, &(x, y)) in pts.iter().enumerate() {
            d.push(if k == 0 { 'M' } else { 'L' });
            let _ = write!(d, "{} {}", tenths(x), tenths(y));
        }
        d.push('Z');
    }
    d
}

/// Sizes that grow with the picture, so a 3000 px picture is not all map and no legend.
struct Scale(f64);

impl Scale {
    fn of(width: u32) -> Self {
        Self((f64::from(width) / 1000.0).clamp(0.55, 3.0))
    }
    fn px(&self, v: f64) -> f64 {
        v * self.0
    }
}

/// A block of text lines in a box.
struct TextBox {
    rect: Rect,
    svg: String,
}

/// The legend box at the top right: title, one swatch per class, and a note on outlines.
fn legend(ds: &Dataset, pic: &Picture, s: &Scale, right: f64, top: f64) -> TextBox {
    let (pad, title_size, item_size) = (s.px(8.0), s.px(13.0), s.px(12.0));
    let (sw, sh, row) = (s.px(16.0), s.px(12.0), s.px(18.0));
    let items = pic.measure.legend(ds);
    let note = if pic.similar.is_some() {
        Some("Orange outline: statistical neighbours")
    } else if !pic.with.is_empty() {
        Some("Orange outline: LAs compared")
    } else {
        None
    };
    let title = pic.measure.title();
    let inner = items
        .iter()
        .map(|(l, _)| sw + s.px(6.0) + width(l, item_size, false))
        .chain([width(title, title_size, true)])
        .chain(note.map(|n| width(n, item_size, false)))
        .fold(0.0, f64::max);
    let h = pad * 2.0 + title_size * 1.3 + row * items.len() as f64 + note.map_or(0.0, |_| row);
    let rect = Rect {
        x: right - inner - pad * 2.0,
        y: top,
        w: inner + pad * 2.0,
        h,
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<g id="legend"><rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="#ffffff" fill-opacity="0.95" stroke="{LINE}"/>"##,
        num(rect.x),
        num(rect.y),
        num(rect.w),
        num(rect.h),
        num(s.px(4.0))
    );
    let x = rect.x + pad;
    let mut y = rect.y + pad + title_size;
    let _ = write!(
        out,
        r##"<text x="{}" y="{}" font-size="{}" font-weight="600" fill="{INK}">{}</text>"##,
        num(x),
        num(y),
        num(title_size),
        esc(title)
    );
    y += s.px(4.0);
    for (label, colour) in &items {
        let _ = write!(
            out,
            r##"<g class="legend-item"><rect x="{}" y="{}" width="{}" height="{}" fill="{colour}" stroke="#767676" stroke-width="{}"/><text x="{}" y="{}" font-size="{}" fill="{INK}">{}</text></g>"##,
            num(x),
            num(y + (row - sh) / 2.0),
            num(sw),
            num(sh),
            num(s.px(1.0).max(1.0)),
            num(x + sw + s.px(6.0)),
            num(y + row / 2.0 + item_size * 0.35),
            num(item_size),
            esc(label)
        );
        y += row;
    }
    if let Some(n) = note {
        let _ = write!(
            out,
            r##"<text class="legend-note" x="{}" y="{}" font-size="{}" fill="#8a3b00">{}</text>"##,
            num(x),
            num(y + row / 2.0 + item_size * 0.35),
            num(item_size),
            esc(n)
        );
    }
    out.push_str("</g>");
    TextBox { rect, svg: out }
}

/// The title box at the top left.
fn title(ds: &Dataset, pic: &Picture, s: &Scale, left: f64, top: f64, max_w: f64) -> TextBox {
    let (heading, sub) = match pic.view {
        View::England => (
            "Area-based education partnerships in England".to_owned(),
            format!(
                "{} upper-tier local authorities · data as of {}",
                ds.las.len(),
                ds.data_as_of.as_deref().unwrap_or("unknown")
            ),
        ),
        View::La(i) => {
            let n = ds.la_partnerships[i].len();
            (
                ds.las[i].name.clone(),
                format!(
                    "{} · {n} partnership{} recorded",
                    ds.las[i].region_name,
                    if n == 1 { "" } else { "s" }
                ),
            )
        }
    };
    let pad = s.px(8.0);
    let big = s.px(if matches!(pic.view, View::La(_)) {
        20.0
    } else {
        15.0
    });
    let small = s.px(11.5);
    let heading_lines = wrap(&heading, big, true, max_w - pad * 2.0);
    let sub_lines = wrap(&sub, small, false, max_w - pad * 2.0);
    let inner = heading_lines
        .iter()
        .map(|l| width(l, big, true))
        .chain(sub_lines.iter().map(|l| width(l, small, false)))
        .fold(0.0, f64::max);
    let h =
        pad * 2.0 + big * 1.25 * heading_lines.len() as f64 + small * 1.35 * sub_lines.len() as f64;
    let rect = Rect {
        x: left,
        y: top,
        w: inner + pad * 2.0,
        h,
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<g id="title"><rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="#ffffff" fill-opacity="0.95" stroke="{LINE}"/>"##,
        num(rect.x),
        num(rect.y),
        num(rect.w),
        num(rect.h),
        num(s.px(4.0))
    );
    let mut y = top + pad;
    for l in &heading_lines {
        y += big * 1.05;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" font-size="{}" font-weight="600" fill="{INK}">{}</text>"##,
            num(left + pad),
            num(y),
            num(big),
            esc(l)
        );
        y += big * 0.2;
    }
    for l in &sub_lines {
        y += small * 1.3;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" font-size="{}" fill="{MUTED}">{}</text>"##,
            num(left + pad),
            num(y),
            num(small),
            esc(l)
        );
    }
    out.push_str("</g>");
    TextBox { rect, svg: out }
}

/// The attribution lines for a picture `width` px wide at font `size`.
fn attribution_lines(ds: &Dataset, width_px: f64, size: f64, pad: f64) -> Vec<String> {
    let text = format!(
        "{ATTRIBUTION} Data as of {}. Drawn by partnership-map.",
        ds.data_as_of.as_deref().unwrap_or("unknown")
    );
    wrap(&text, size, false, width_px - pad * 2.0)
}

/// The attribution strip's font size and height for a picture of `w` × `h` (`h` = `None` for
/// a natural height): the font shrinks (not below 5 px) until the strip takes at most a third
/// of a given height.
fn attribution_metrics(ds: &Dataset, s: &Scale, w: f64, h: Option<f64>) -> (f64, f64, Vec<String>) {
    let pad = s.px(6.0);
    let mut size = s.px(10.0).max(6.0);
    loop {
        let lines = attribution_lines(ds, w, size, pad);
        // Whole pixels, so the picture's height is a whole number.
        let strip = (pad * 2.0 + size * 1.3 * lines.len() as f64).ceil();
        let fits = h.is_none_or(|h| strip <= h / 3.0);
        if fits || size <= 5.0 {
            return (size, strip, lines);
        }
        size = (size - 0.5).max(5.0);
    }
}

/// A placed label's box.
fn label_box(lines: &[String], size: f64, at: [f64; 2]) -> Rect {
    let w = lines
        .iter()
        .map(|l| width(l, size, true))
        .fold(0.0, f64::max);
    let h = size * 1.2 * lines.len() as f64;
    Rect {
        x: at[0] - w / 2.0 - 2.0,
        y: at[1] - h / 2.0 - 2.0,
        w: w + 4.0,
        h: h + 4.0,
    }
}

fn label_svg(out: &mut String, lines: &[String], size: f64, at: [f64; 2], class: &str) {
    let line_h = size * 1.2;
    let first = at[1] - line_h * (lines.len() as f64 - 1.0) / 2.0 + size * 0.35;
    let _ = write!(
        out,
        r##"<text class="{class}" x="{}" y="{}" font-size="{}">"##,
        num(at[0]),
        num(first),
        num(size)
    );
    for (k, l) in lines.iter().enumerate() {
        if k == 0 {
            out.push_str(&esc(l));
        } else {
            let _ = write!(
                out,
                r##"<tspan x="{}" dy="{}">{}</tspan>"##,
                num(at[0]),
                num(line_h),
                esc(l)
            );
        }
    }
    out.push_str("</text>");
}

/// The whole picture as an SVG document.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn draw(ds: &Dataset, pic: &Picture) -> String {
    let s = Scale::of(pic.width);
    let w = f64::from(pic.width);
    let margin = s.px(10.0);
    let (content, pad, default_aspect) = match pic.view {
        View::England => (england_bounds(ds), 0.02, None),
        View::La(i) => {
            // At least 40 km of Mercator across, so a small LA shows the places around it.
            let (lo, hi) = la_bounds(ds, i);
            let c = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
            let half = [
                ((hi[0] - lo[0]) / 2.0).max(20_000.0),
                ((hi[1] - lo[1]) / 2.0).max(20_000.0),
            ];
            (
                (
                    [c[0] - half[0], c[1] - half[1]],
                    [c[0] + half[0], c[1] + half[1]],
                ),
                0.3,
                Some(0.525),
            )
        }
    };
    let given_h = pic
        .height
        .map(f64::from)
        .or(default_aspect.map(|a| (w * a).round()));
    let (attr_size, strip, attr_lines) = attribution_metrics(ds, &s, w, given_h);
    let map_h = given_h.map_or_else(
        || {
            let (lo, hi) = content;
            ((hi[1] - lo[1]) / (hi[0] - lo[0]) * w).round()
        },
        |h| h - strip,
    );
    let h = map_h + strip;
    let area = Rect {
        x: 0.0,
        y: 0.0,
        w,
        h: map_h,
    };
    let frame = Frame::fit(content, pad, area);
    let z = frame.geometry_zoom(ds.max_zoom());
    let mz = frame.maplibre_zoom();
    let (shown_lo, shown_hi) = frame.shown();
    let visible: Vec<usize> = (0..ds.las.len())
        .filter(|&i| {
            let (lo, hi) = la_bounds(ds, i);
            lo[0] <= shown_hi[0]
                && hi[0] >= shown_lo[0]
                && lo[1] <= shown_hi[1]
                && hi[1] >= shown_lo[1]
        })
        .collect();

    let mut out = String::with_capacity(256 * 1024);
    let what = match pic.view {
        View::England => format!(
            "Map of England's {} upper-tier local authorities",
            ds.las.len()
        ),
        View::La(i) => format!(
            "Map of {} and the local authorities around it",
            ds.las[i].name
        ),
    };
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Open Sans, sans-serif" role="img" aria-labelledby="pm-title pm-desc" data-origin="{} {}" data-scale="{}" data-map-area="0 0 {w} {map_h}" data-data-version="{}">"##,
        frame.origin[0],
        frame.origin[1],
        frame.scale,
        esc(&ds.version)
    );
    let _ = write!(
        out,
        r##"<title id="pm-title">{}</title><desc id="pm-desc">{}, coloured by {}. {}</desc>"##,
        esc(&what),
        esc(&what),
        esc(&pic.measure.title().to_lowercase()),
        esc(ATTRIBUTION)
    );
    let _ = write!(
        out,
        r##"<rect width="{w}" height="{h}" fill="{BACKGROUND}"/>"##
    );
    let _ = write!(
        out,
        r##"<g id="las" fill-opacity="{FILL_OPACITY}" fill-rule="evenodd" stroke="{OUTLINE}" stroke-opacity="0.8" stroke-width="{:.2}" stroke-linejoin="round">"##,
        interpolate(mz, &[(4.0, 0.3), (8.0, 1.0), (12.0, 2.0)])
    );
    let mut paths: Vec<(usize, String)> = Vec::with_capacity(visible.len());
    for &i in &visible {
        let d = path_data(ds, i, z, &frame);
        if d.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            r##"<path data-code="{}" fill="{}" d="{d}"/>"##,
            esc(&ds.las[i].code),
            pic.measure.colour(ds, i)
        );
        paths.push((i, d));
    }
    out.push_str("</g>");
    // Highlights: orange for statistical neighbours or compared LAs, black for the selection.
    let mut orange: Vec<usize> = Vec::new();
    if let Some(sim) = pic.similar {
        orange.push(sim);
        orange.extend(
            ds.las[sim]
                .stat_neighbours
                .iter()
                .filter_map(|c| ds.las.iter().position(|l| &l.code == c)),
        );
    }
    orange.extend(pic.with.iter().copied());
    let outline = |out: &mut String, id: &str, colour: &str, width: f64, las: &[usize]| {
        let _ = write!(
            out,
            r##"<g id="{id}" fill="none" stroke="{colour}" stroke-width="{}" stroke-linejoin="round">"##,
            num(width)
        );
        for (i, d) in &paths {
            if las.contains(i) {
                let _ = write!(
                    out,
                    r##"<path data-code="{}" d="{d}"/>"##,
                    esc(&ds.las[*i].code)
                );
            }
        }
        out.push_str("</g>");
    };
    if !orange.is_empty() {
        outline(&mut out, "similar", SIMILAR, 3.0, &orange);
    }
    if let Some(sel) = pic.selected {
        outline(&mut out, "selected", SELECTED, 3.5, &[sel]);
    }

    // Boxes first, so labels keep clear of them.
    let legend = legend(ds, pic, &s, w - margin, margin);
    let title = title(
        ds,
        pic,
        &s,
        margin,
        margin,
        (w - legend.rect.w - margin * 3.0).max(w * 0.3),
    );
    let reserved = [legend.rect, title.rect];

    // Labels as the style's `la-labels` layer: from zoom 5, Open Sans Semibold, size 10 at z5
    // to 14 at z9, wrapped at 8 ems, with a white halo; the selected LA first and larger.
    if mz >= 5.0 {
        let size = interpolate(mz, &[(5.0, 10.0), (9.0, 14.0)]);
        let mut order: Vec<usize> = visible.clone();
        let area_of = |i: usize| {
            ds.attributes[i]
                .iter()
                .find(|(k, _)| k == "area_km2")
                .and_then(|(_, v)| {
                    if let crate::model::Value::Double(a) = v {
                        Some(*a)
                    } else {
                        None
                    }
                })
                .unwrap_or(0.0)
        };
        order.sort_by(|&a, &b| {
            (Some(b) == pic.selected)
                .cmp(&(Some(a) == pic.selected))
                .then(area_of(b).total_cmp(&area_of(a)))
        });
        let mut placed: Vec<Rect> = Vec::new();
        let _ = write!(
            out,
            r##"<g id="labels" font-weight="600" fill="{INK}" stroke="#ffffff" stroke-width="{}" stroke-linejoin="round" paint-order="stroke" text-anchor="middle">"##,
            num(3.0)
        );
        for i in order {
            let selected = Some(i) == pic.selected;
            let sz = if selected { size * 1.35 } else { size };
            let lines = wrap(&ds.las[i].name, sz, true, 8.0 * sz);
            let at = frame.px(label_point(ds, i));
            let b = label_box(&lines, sz, at);
            let inside = area.contains(&b);
            let clear = !placed
                .iter()
                .chain(reserved.iter())
                .any(|r| r.intersects(&b));
            if inside && clear {
                label_svg(
                    &mut out,
                    &lines,
                    sz,
                    at,
                    if selected { "label selected" } else { "label" },
                );
                placed.push(b);
            }
        }
        out.push_str("</g>");
    }
    // No clip around the map: the attribution strip is drawn over it below, and labels are
    // placed inside the map area (a clip would cost resvg a mask layer).
    out.push_str(&title.svg);
    out.push_str(&legend.svg);

    // Attribution strip along the bottom.
    let pad = s.px(6.0);
    let _ = write!(
        out,
        r##"<g id="attribution"><rect x="0" y="{}" width="{w}" height="{}" fill="#ffffff"/><line x1="0" y1="{}" x2="{w}" y2="{}" stroke="{LINE}"/>"##,
        num(map_h),
        num(strip),
        num(map_h),
        num(map_h)
    );
    let mut y = map_h + pad;
    for l in &attr_lines {
        y += attr_size * 1.3;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" font-size="{}" fill="{MUTED}">{}</text>"##,
            num(pad),
            num(y - attr_size * 0.3),
            num(attr_size),
            esc(l)
        );
    }
    out.push_str("</g></svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_follows_maplibre_linear_stops() {
        let stops = [(4.0, 0.3), (8.0, 1.0), (12.0, 2.0)];
        assert!((interpolate(2.0, &stops) - 0.3).abs() < 1e-9);
        assert!((interpolate(6.0, &stops) - 0.65).abs() < 1e-9);
        assert!((interpolate(10.0, &stops) - 1.5).abs() < 1e-9);
        assert!((interpolate(20.0, &stops) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(-0.06), "-0.1");
        assert_eq!(tenths(-5), "-0.5");
        assert_eq!(tenths(1234), "123.4");
        assert_eq!(tenths(-120), "-12");
    }
}
