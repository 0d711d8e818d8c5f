//! Link previews: the Open Graph and Twitter card tags of `/`, `/?la={code}`, `/embed` and
//! `/compare?la={code}`, so a link pasted into a chat app shows the LA, a summary and a map
//! picture (`/render/…`, as an absolute URL from `--public-url` or the request's `Host`).

use std::fmt::Write as _;

use maud::{Markup, html};

use crate::compare::{Comparison, form_label, lower_first};
use crate::dataset::Dataset;
use crate::render::Measure;

/// Size of every preview picture: the 1.91:1 that chat apps and social sites show whole.
pub const IMAGE_SIZE: (u32, u32) = (1200, 630);

/// What a link preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Title.
    pub title: String,
    /// One or two sentences.
    pub description: String,
    /// Absolute URL of the page.
    pub url: String,
    /// Absolute URL of the PNG.
    pub image: String,
    /// Text alternative of the picture.
    pub image_alt: String,
}

/// The `<meta>` tags of a preview.
#[must_use]
pub fn tags(p: &Preview) -> Markup {
    html! {
        meta name="description" content=(p.description);
        meta property="og:type" content="website";
        meta property="og:site_name" content="partnership-map";
        meta property="og:locale" content="en_GB";
        meta property="og:title" content=(p.title);
        meta property="og:description" content=(p.description);
        meta property="og:url" content=(p.url);
        meta property="og:image" content=(p.image);
        meta property="og:image:type" content="image/png";
        meta property="og:image:width" content=(IMAGE_SIZE.0);
        meta property="og:image:height" content=(IMAGE_SIZE.1);
        meta property="og:image:alt" content=(p.image_alt);
        meta name="twitter:card" content="summary_large_image";
        meta name="twitter:title" content=(p.title);
        meta name="twitter:description" content=(p.description);
        meta name="twitter:image" content=(p.image);
        meta name="twitter:image:alt" content=(p.image_alt);
    }
}

fn size_query() -> String {
    format!("w={}&h={}", IMAGE_SIZE.0, IMAGE_SIZE.1)
}

fn measure_query(m: Measure) -> String {
    if m == Measure::Count {
        String::new()
    } else {
        format!("&measure={}", m.key())
    }
}

/// "North East · 2 partnerships (school-led company, LA-convened partnership). The council
/// convenes a partnership or board with schools. Not yet verified by the LA. Data as of …".
#[must_use]
pub fn la_description(ds: &Dataset, i: usize) -> String {
    let la = &ds.las[i];
    let ps = &ds.la_partnerships[i];
    let mut forms: Vec<String> = Vec::new();
    for &p in ps {
        let f = lower_first(&form_label(&ds.partnerships[p].form));
        if !forms.contains(&f) {
            forms.push(f);
        }
    }
    let mut d = format!(
        "{} · {} partnership{}",
        la.region_name,
        ps.len(),
        if ps.len() == 1 { "" } else { "s" }
    );
    if !forms.is_empty() {
        let _ = write!(d, " ({})", forms.join(", "));
    }
    d.push('.');
    if let Some(r) = ds.la_role[i].map(|r| &ds.roles[r]) {
        let roles: Vec<&str> = [
            (r.funder, "funds or commissions"),
            (r.convener, "convenes"),
            (r.deliverer, "delivers"),
            (r.traded_service, "sells"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        if !roles.is_empty() {
            let _ = write!(d, " The council {} school improvement.", join_and(&roles));
        }
    }
    d.push_str(if la.verified {
        " Verified by the LA."
    } else {
        " Not yet verified by the LA."
    });
    if let Some(date) = &ds.data_as_of {
        let _ = write!(d, " Data as of {date}.");
    }
    d
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The preview of the map page: one LA when `la` is set, else England.
#[must_use]
pub fn map(ds: &Dataset, base: &str, la: Option<usize>, measure: Measure) -> Preview {
    match la {
        Some(i) => {
            let l = &ds.las[i];
            Preview {
                title: format!("{}: area-based education partnerships", l.name),
                description: la_description(ds, i),
                url: format!("{base}/?la={}", l.code),
                image: format!(
                    "{base}/render/la/{}.png?{}{}",
                    l.code,
                    size_query(),
                    measure_query(measure)
                ),
                image_alt: format!(
                    "Map of {} and the local authorities around it, coloured by {}",
                    l.name,
                    measure.title().to_lowercase()
                ),
            }
        }
        None => england(ds, base, "/", measure),
    }
}

/// The preview of all of England (the map without a selection, and `/embed`).
#[must_use]
pub fn england(ds: &Dataset, base: &str, path: &str, measure: Measure) -> Preview {
    let with_data = ds.summary.las_with_data;
    Preview {
        title: "partnership-map: area-based education partnerships in England".to_owned(),
        description: format!(
            "How schools work together across England's {} upper-tier local authorities: {} partnerships recorded in {} LAs, each LA's role in school improvement, and LAs like yours.",
            ds.las.len(),
            ds.partnerships.len(),
            with_data
        ),
        url: format!("{base}{path}"),
        image: format!(
            "{base}/render/england.png?{}{}",
            size_query(),
            measure_query(measure)
        ),
        image_alt: format!(
            "Map of England's local authorities coloured by {}",
            measure.title().to_lowercase()
        ),
    }
}

/// The preview of a comparison; `dated` is `&date=…` for a comparison on another day's map,
/// or empty.
#[must_use]
pub fn compare(ds: &Dataset, base: &str, cmp: &Comparison, dated: &str) -> Preview {
    let la = &ds.las[cmp.subject];
    let mut description = if cmp.differences.is_empty() {
        format!(
            "{} side by side with {}: roles, partnerships by form, focus and phase, and context figures.",
            la.name,
            cmp.others_its()
        )
    } else {
        cmp.differences
            .iter()
            .take(2)
            .map(|d| d.text.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if let Some(date) = &ds.data_as_of {
        let _ = write!(description, " Data as of {date}.");
    }
    Preview {
        title: format!("How {} compares with {}", la.name, cmp.others_its()),
        description,
        url: format!("{base}/compare?{}{dated}", cmp.query(ds)),
        image: format!(
            "{base}/render/england.png?{}&{}{dated}",
            size_query(),
            cmp.picture_query(ds)
        ),
        image_alt: format!(
            "Map of England with {} outlined in black and the LAs it is compared with in orange",
            la.name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_join_with_and() {
        assert_eq!(join_and(&["a"]), "a");
        assert_eq!(join_and(&["a", "b"]), "a and b");
        assert_eq!(join_and(&["a", "b", "c"]), "a, b and c");
    }
}
