//! Stage 0b: read the LA boundary GeoJSON into plain polygons (lon/lat) and check them.
//!
//! Problems are reported per feature index, with the feature's code when it has one.
//! Pure: takes the file content, never the disk.

use rayon::prelude::*;

use super::problems::LoadError;

/// A ring of lon/lat positions, closed (first == last).
pub type Ring = Vec<[f64; 2]>;
/// Exterior ring first, then holes.
pub type Part = Vec<Ring>;

/// One boundary feature.
#[derive(Debug, Clone)]
pub struct Boundary {
    /// 0-based index in the file's `features`.
    pub index: usize,
    /// `code` property.
    pub code: String,
    /// `name` property.
    pub name: String,
    /// Polygon parts in lon/lat.
    pub parts: Vec<Part>,
}

/// Parse a GeoJSON `FeatureCollection` of Polygon/MultiPolygon features with `code` and `name`.
/// Features are read in parallel (the file is the largest serial step of a load); problems
/// are reported in feature order all the same.
pub fn parse_boundaries(path: &str, content: &str, errors: &mut LoadError) -> Vec<Boundary> {
    #[derive(serde::Deserialize)]
    struct Collection<'a> {
        #[serde(borrow)]
        features: Vec<&'a serde_json::value::RawValue>,
    }
    let Ok(collection) = serde_json::from_str::<Collection<'_>>(content) else {
        // Not valid JSON, or no features array: the whole-tree reading says which.
        return parse_tree(path, content, errors);
    };
    let read: Vec<(Option<Boundary>, LoadError)> = collection
        .features
        .par_iter()
        .enumerate()
        .map(|(index, raw)| {
            let mut problems = LoadError::default();
            let boundary = serde_json::from_str(raw.get())
                .map_err(|e| {
                    problems.push(
                        format!("{path}: feature {index}"),
                        None,
                        format!("not valid JSON: {e}"),
                    )
                })
                .ok()
                .and_then(|value| feature(path, index, value, &mut problems));
            (boundary, problems)
        })
        .collect();
    let mut out = Vec::with_capacity(read.len());
    for (boundary, problems) in read {
        errors.append(problems);
        out.extend(boundary);
    }
    out
}

/// The same reading over one JSON tree of the whole file: for files that are not a JSON
/// object with a `features` array, to say exactly what is wrong.
fn parse_tree(path: &str, content: &str, errors: &mut LoadError) -> Vec<Boundary> {
    let mut root: serde_json::Value = match serde_json::from_str(content) {
        Ok(v) => v,
        Err(e) => {
            errors.push(
                format!("{path}:{}", e.line()),
                None,
                format!("not valid JSON: {e}"),
            );
            return Vec::new();
        }
    };
    let Some(features) = root
        .get_mut("features")
        .and_then(|f| f.as_array_mut())
        .map(std::mem::take)
    else {
        errors.push(
            path,
            None,
            "not a GeoJSON FeatureCollection (no \"features\" array)",
        );
        return Vec::new();
    };
    features
        .into_iter()
        .enumerate()
        .filter_map(|(index, value)| feature(path, index, value, errors))
        .collect()
}

/// One feature: its boundary, or `None` with the problems recorded.
fn feature(
    path: &str,
    index: usize,
    value: serde_json::Value,
    errors: &mut LoadError,
) -> Option<Boundary> {
    let code = value
        .pointer("/properties/code")
        .and_then(|c| c.as_str())
        .unwrap_or("")
        .to_owned();
    let location = if code.is_empty() {
        format!("{path}: feature {index}")
    } else {
        format!("{path}: feature {index} ({code})")
    };
    let name = value
        .pointer("/properties/name")
        .and_then(|c| c.as_str())
        .unwrap_or("")
        .to_owned();
    let feature: geojson::Feature = match serde_json::from_value(value) {
        Ok(f) => f,
        Err(e) => {
            errors.push(location, None, format!("not a GeoJSON Feature: {e}"));
            return None;
        }
    };
    if code.is_empty() {
        errors.push(&location, Some("code"), "missing or empty string property");
    }
    if name.is_empty() {
        errors.push(&location, Some("name"), "missing or empty string property");
    }
    let polygons = match feature.geometry.map(|g| g.value) {
        Some(geojson::GeometryValue::Polygon { coordinates }) => vec![coordinates],
        Some(geojson::GeometryValue::MultiPolygon { coordinates }) => coordinates,
        Some(other) => {
            errors.push(
                &location,
                Some("geometry"),
                format!("type {} is not Polygon or MultiPolygon", other.type_name()),
            );
            return None;
        }
        None => {
            errors.push(&location, Some("geometry"), "geometry is null");
            return None;
        }
    };
    let mut parts = Vec::new();
    for (pi, polygon) in polygons.iter().enumerate() {
        let mut rings = Vec::new();
        for (ri, ring) in polygon.iter().enumerate() {
            let coords: Ring = ring
                .iter()
                .map(|p| {
                    let s = p.as_slice();
                    [
                        s.first().copied().unwrap_or(f64::NAN),
                        s.get(1).copied().unwrap_or(f64::NAN),
                    ]
                })
                .collect();
            match check_ring(&coords) {
                Ok(()) => rings.push(coords),
                Err(why) => errors.push(
                    &location,
                    Some("geometry"),
                    format!("polygon {pi} ring {ri}: {why}"),
                ),
            }
        }
        if !rings.is_empty() {
            parts.push(rings);
        }
    }
    if parts.is_empty() {
        errors.push(&location, Some("geometry"), "geometry is empty");
        return None;
    }
    Some(Boundary {
        index,
        code,
        name,
        parts,
    })
}

/// Signed area (shoelace, in the units of the input squared).
#[must_use]
pub fn ring_area(ring: &[[f64; 2]]) -> f64 {
    let mut a = 0.0;
    for w in ring.windows(2) {
        a += w[0][0] * w[1][1] - w[1][0] * w[0][1];
    }
    a / 2.0
}

fn check_ring(ring: &[[f64; 2]]) -> Result<(), String> {
    if ring.len() < 4 {
        return Err(format!("{} positions; a ring needs at least 4", ring.len()));
    }
    if let Some((i, p)) = ring.iter().enumerate().find(|(_, p)| {
        !(p[0].is_finite()
            && p[1].is_finite()
            && (-180.0..=180.0).contains(&p[0])
            && (-85.0..=85.0).contains(&p[1]))
    }) {
        return Err(format!("position {i} {p:?} is not a longitude/latitude"));
    }
    if ring.first() != ring.last() {
        return Err("ring is not closed (first position differs from last)".to_owned());
    }
    if ring_area(ring) == 0.0 {
        return Err("ring has zero area".to_owned());
    }
    Ok(())
}
