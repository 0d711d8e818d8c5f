//! Stage 0: load, validate and prepare the dataset once at startup.
//!
//! `Dataset::load` reads `boundaries/` and `data/`; `Dataset::from_inputs` does all the work on
//! file contents, so tests can feed broken copies without touching the disk. The result is
//! immutable and shared (`Arc`) by every request: per-zoom simplified geometry, an R-tree of
//! polygon parts, label points and each LA's tile attributes.

pub mod boundaries;
pub mod generalise;
pub mod problems;
pub mod tables;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use geo::GeodesicArea;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::model::{LaFacts, LaRole, LocalAuthority, Partnership, Value};
use crate::schema::{self, Field};
use crate::tile::{Merc, lonlat_to_merc, merc_to_lonlat};
use generalise::TopoRing;
pub use problems::{LoadError, Problem};

/// File name of the boundaries inside `--boundaries`.
pub const BOUNDARIES_FILE: &str = "england_upper_tier_las.geojson";
/// File names inside `--data`.
pub const LA_FILE: &str = "local_authorities.csv";
/// Partnerships file.
pub const PARTNERSHIPS_FILE: &str = "partnerships.csv";
/// LA role file.
pub const ROLES_FILE: &str = "la_school_improvement.csv";

/// One input file: the path shown in messages and its content.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Path as shown to people, e.g. `data/partnerships.csv`.
    pub path: String,
    /// Full text.
    pub content: String,
    /// Last modification time, if known.
    pub modified: Option<std::time::SystemTime>,
}

/// The four input files.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// LA polygons.
    pub boundaries: InputFile,
    /// LA table.
    pub local_authorities: InputFile,
    /// Partnerships.
    pub partnerships: InputFile,
    /// LA roles.
    pub roles: InputFile,
}

impl Inputs {
    /// Read the four files from the two directories.
    ///
    /// # Errors
    /// A [`LoadError`] naming every file that could not be read.
    pub fn read(boundaries_dir: &Path, data_dir: &Path) -> Result<Self, LoadError> {
        let mut errors = LoadError::default();
        let mut read = |dir: &Path, name: &str| {
            let path = dir.join(name);
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(content) => InputFile {
                    modified: std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
                    path: shown,
                    content,
                },
                Err(e) => {
                    errors.push(&shown, None, format!("cannot read file: {e}"));
                    InputFile {
                        path: shown,
                        content: String::new(),
                        modified: None,
                    }
                }
            }
        };
        let inputs = Self {
            boundaries: read(boundaries_dir, BOUNDARIES_FILE),
            local_authorities: read(data_dir, LA_FILE),
            partnerships: read(data_dir, PARTNERSHIPS_FILE),
            roles: read(data_dir, ROLES_FILE),
        };
        errors.into_result(inputs)
    }

    /// "Data as of": the date (UTC) the newest input file was last changed.
    #[must_use]
    pub fn data_as_of(&self) -> Option<String> {
        [
            &self.boundaries,
            &self.local_authorities,
            &self.partnerships,
            &self.roles,
        ]
        .iter()
        .filter_map(|f| f.modified)
        .max()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d")
                .to_string()
        })
    }

    /// A short hash of all input bytes: the data version in ETags, cache keys and downloads.
    #[must_use]
    pub fn version(&self) -> String {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for f in [
            &self.boundaries,
            &self.local_authorities,
            &self.partnerships,
            &self.roles,
        ] {
            h.update(&(f.content.len() as u64).to_le_bytes());
            h.update(f.content.as_bytes());
        }
        format!("{:016x}", h.digest())
    }
}

/// One polygon part in the R-tree: `(la index, part index)`.
pub type PartEntry = GeomWithData<Rectangle<Merc>, (u32, u32)>;

/// A polygon part as drawn at one zoom: exterior first, then holes (Mercator, open rings).
pub type ZoomPart = Vec<Vec<Merc>>;

/// What `check` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// LAs with a boundary and a row.
    pub las: usize,
    /// Partnership rows.
    pub partnerships: usize,
    /// LAs named by at least one partnership.
    pub las_with_partnerships: usize,
    /// LAs with an LA-role row.
    pub las_with_role: usize,
    /// LAs with either.
    pub las_with_data: usize,
    /// Boundary features joined through a former code: `(boundary code, current code)`.
    pub joined_by_former_code: Vec<(String, String)>,
    /// Vertices in the boundaries.
    pub vertices: usize,
}

/// The loaded, validated, prepared dataset.
#[derive(Debug)]
pub struct Dataset {
    /// Hash of the inputs.
    pub version: String,
    /// Date the newest input file changed (`YYYY-MM-DD`), if known.
    pub data_as_of: Option<String>,
    /// LAs in `local_authorities.csv` order.
    pub las: Vec<LocalAuthority>,
    /// Partnerships in file order.
    pub partnerships: Vec<Partnership>,
    /// LA role rows in file order.
    pub roles: Vec<LaRole>,
    /// Per LA, the index of its partnerships.
    pub la_partnerships: Vec<Vec<usize>>,
    /// Per LA, the index of its role row.
    pub la_role: Vec<Option<usize>>,
    /// Per LA, the `local_authorities` layer attributes in schema order (absent = unknown).
    pub attributes: Vec<Vec<(String, Value)>>,
    /// Per LA, the `la_labels` layer attributes.
    pub label_attributes: Vec<Vec<(String, Value)>>,
    /// Per LA, the label point (pole of inaccessibility of its largest part), Mercator.
    pub labels: Vec<Merc>,
    /// `zooms[z][la][part]`: geometry simplified for zoom `z`.
    pub zooms: Vec<Vec<Vec<ZoomPart>>>,
    /// Full-resolution bounding boxes of every polygon part.
    pub index: RTree<PartEntry>,
    /// Lon/lat bounds `[west, south, east, north]`.
    pub bounds: [f64; 4],
    /// Per LA, lon/lat bounds `[west, south, east, north]`.
    pub la_bounds: Vec<[f64; 4]>,
    /// Per LA, the full-resolution polygon parts in lon/lat (closed rings), for downloads and OGC API.
    pub lonlat: Vec<LonLatLa>,
    /// Counts for `check` and startup logs.
    pub summary: Summary,
}

impl Dataset {
    /// Read and prepare the dataset from disk.
    ///
    /// # Errors
    /// Every problem found, with file, line or feature, and column.
    pub fn load(boundaries_dir: &Path, data_dir: &Path, max_zoom: u8) -> Result<Self, LoadError> {
        Self::from_inputs(&Inputs::read(boundaries_dir, data_dir)?, max_zoom)
    }

    /// Validate and prepare from file contents (pure).
    ///
    /// # Errors
    /// Every problem found, with file, line or feature, and column.
    pub fn from_inputs(inputs: &Inputs, max_zoom: u8) -> Result<Self, LoadError> {
        let mut errors = LoadError::default();
        let las = tables::parse_local_authorities(
            &inputs.local_authorities.path,
            &inputs.local_authorities.content,
            &mut errors,
        );
        let by_name: HashMap<String, String> = las
            .iter()
            .map(|l| (l.name.clone(), l.code.clone()))
            .collect();
        let partnerships = tables::parse_partnerships(
            &inputs.partnerships.path,
            &inputs.partnerships.content,
            &by_name,
            &mut errors,
        );
        let roles = tables::parse_roles(
            &inputs.roles.path,
            &inputs.roles.content,
            &by_name,
            &mut errors,
        );
        let boundaries = boundaries::parse_boundaries(
            &inputs.boundaries.path,
            &inputs.boundaries.content,
            &mut errors,
        );
        let (geometry, joined_by_former_code) = join_boundaries(
            &las,
            boundaries,
            &inputs.boundaries.path,
            &inputs.local_authorities.path,
            &mut errors,
        );
        errors.into_result(())?;

        let index_of: HashMap<&str, usize> = las
            .iter()
            .enumerate()
            .map(|(i, l)| (l.code.as_str(), i))
            .collect();
        let mut la_partnerships = vec![Vec::new(); las.len()];
        for (pi, p) in partnerships.iter().enumerate() {
            for c in &p.la_codes {
                la_partnerships[index_of[c.as_str()]].push(pi);
            }
        }
        let mut la_role = vec![None; las.len()];
        for (ri, r) in roles.iter().enumerate() {
            la_role[index_of[r.la_code.as_str()]] = Some(ri);
        }

        let topo = generalise::build_topology(&geometry, lonlat_to_merc);
        let zooms = (0..=max_zoom)
            .map(|z| {
                topo.iter()
                    .map(|la| la.iter().map(|part| zoom_part(part, z)).collect())
                    .collect()
            })
            .collect();
        let index = RTree::bulk_load(
            topo.iter()
                .enumerate()
                .flat_map(|(li, la)| {
                    la.iter().enumerate().map(move |(pi, part)| {
                        let (lo, hi) = bbox(&part[0].coords);
                        #[allow(clippy::cast_possible_truncation)]
                        PartEntry::new(Rectangle::from_corners(lo, hi), (li as u32, pi as u32))
                    })
                })
                .collect(),
        );
        let labels = topo.iter().map(|la| label_point(la)).collect();
        let areas: Vec<f64> = geometry.iter().map(area_km2).collect();
        let la_bounds: Vec<[f64; 4]> = geometry
            .iter()
            .map(|la| lonlat_bounds(la.iter().flatten().flatten()))
            .collect();
        let bounds = lonlat_bounds(geometry.iter().flatten().flatten().flatten());

        let la_fields = schema::la_fields();
        let label_fields = schema::label_fields();
        let mut attributes = Vec::with_capacity(las.len());
        let mut label_attributes = Vec::with_capacity(las.len());
        for (i, la) in las.iter().enumerate() {
            let ps: Vec<&Partnership> = la_partnerships[i]
                .iter()
                .map(|&p| &partnerships[p])
                .collect();
            let facts = LaFacts {
                la,
                partnerships: &ps,
                role: la_role[i].map(|r| &roles[r]),
                area_km2: areas[i],
            };
            attributes.push(values(&la_fields, &facts));
            label_attributes.push(values(&label_fields, &facts));
        }

        let summary = Summary {
            las: las.len(),
            partnerships: partnerships.len(),
            las_with_partnerships: la_partnerships.iter().filter(|p| !p.is_empty()).count(),
            las_with_role: la_role.iter().filter(|r| r.is_some()).count(),
            las_with_data: (0..las.len())
                .filter(|&i| !la_partnerships[i].is_empty() || la_role[i].is_some())
                .count(),
            joined_by_former_code,
            vertices: geometry.iter().flatten().flatten().map(Vec::len).sum(),
        };
        Ok(Self {
            version: inputs.version(),
            data_as_of: inputs.data_as_of(),
            las,
            partnerships,
            roles,
            la_partnerships,
            la_role,
            attributes,
            label_attributes,
            labels,
            zooms,
            index,
            bounds,
            la_bounds,
            lonlat: geometry,
            summary,
        })
    }

    /// Highest zoom prepared.
    #[must_use]
    pub fn max_zoom(&self) -> u8 {
        u8::try_from(self.zooms.len().saturating_sub(1)).unwrap_or(u8::MAX)
    }

    /// Label point of LA `i` in lon/lat.
    #[must_use]
    pub fn label_lonlat(&self, i: usize) -> [f64; 2] {
        merc_to_lonlat(self.labels[i])
    }
}

fn values(fields: &[Field], facts: &LaFacts<'_>) -> Vec<(String, Value)> {
    fields
        .iter()
        .filter_map(|f| f.value(facts).map(|v| (f.name.clone(), v)))
        .collect()
}

/// One LA's polygon parts in lon/lat: parts → rings (exterior first) → closed positions.
pub type LonLatLa = Vec<Vec<Vec<[f64; 2]>>>;

/// Match boundary features to LA rows on the current code, then on former codes.
fn join_boundaries(
    las: &[LocalAuthority],
    boundaries: Vec<boundaries::Boundary>,
    boundaries_path: &str,
    la_path: &str,
    errors: &mut LoadError,
) -> (Vec<LonLatLa>, Vec<(String, String)>) {
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    let mut by_former: HashMap<&str, usize> = HashMap::new();
    for (i, la) in las.iter().enumerate() {
        by_code.insert(&la.code, i);
        for f in &la.former_codes {
            by_former.insert(f, i);
        }
    }
    let mut geometry: Vec<Option<LonLatLa>> = vec![None; las.len()];
    let mut seen_codes = HashSet::new();
    let mut former = Vec::new();
    for b in boundaries {
        let location = format!("{boundaries_path}: feature {} ({})", b.index, b.code);
        if !seen_codes.insert(b.code.clone()) {
            errors.push(
                &location,
                Some("code"),
                format!("duplicate code \"{}\"", b.code),
            );
            continue;
        }
        let target = by_code.get(b.code.as_str()).copied().or_else(|| {
            let i = by_former.get(b.code.as_str()).copied();
            if let Some(i) = i {
                former.push((b.code.clone(), las[i].code.clone()));
            }
            i
        });
        let Some(i) = target else {
            errors.push(
                &location,
                Some("code"),
                format!(
                    "no row in {la_path} has code or former code \"{}\" ({})",
                    b.code, b.name
                ),
            );
            continue;
        };
        if geometry[i].is_some() {
            errors.push(
                &location,
                Some("code"),
                format!("a second boundary for {} ({})", las[i].code, las[i].name),
            );
            continue;
        }
        geometry[i] = Some(b.parts);
    }
    let mut out = Vec::with_capacity(las.len());
    for (i, g) in geometry.into_iter().enumerate() {
        if let Some(g) = g {
            out.push(g);
        } else {
            errors.push(
                format!("{la_path}:{}", las[i].line),
                Some("code"),
                format!(
                    "no boundary in {boundaries_path} for \"{}\" ({}) under its code or former codes",
                    las[i].code, las[i].name
                ),
            );
            out.push(Vec::new());
        }
    }
    (out, former)
}

fn lonlat_bounds<'a>(points: impl Iterator<Item = &'a [f64; 2]>) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in points {
        b = [
            b[0].min(p[0]),
            b[1].min(p[1]),
            b[2].max(p[0]),
            b[3].max(p[1]),
        ];
    }
    b
}

fn zoom_part(part: &[TopoRing], z: u8) -> ZoomPart {
    let mut rings = Vec::new();
    for (ri, ring) in part.iter().enumerate() {
        match generalise::simplify_ring(ring, z) {
            Some(r) => rings.push(r),
            // Without its exterior the part is gone; a vanished hole is simply left out.
            None if ri == 0 => return Vec::new(),
            None => {}
        }
    }
    rings
}

fn bbox(coords: &[Merc]) -> (Merc, Merc) {
    let mut lo = [f64::MAX, f64::MAX];
    let mut hi = [f64::MIN, f64::MIN];
    for p in coords {
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    (lo, hi)
}

fn to_polygon(part: &[TopoRing]) -> geo::Polygon<f64> {
    let ring = |r: &TopoRing| {
        geo::LineString::from(r.coords.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
    };
    geo::Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect())
}

/// Pole of inaccessibility of the largest part: a point well inside, unlike a centroid.
fn label_point(la: &[Vec<TopoRing>]) -> Merc {
    use geo::Area;
    let largest = la
        .iter()
        .map(|p| to_polygon(p))
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()));
    let Some(poly) = largest else {
        return [0.0, 0.0];
    };
    match polylabel::polylabel(&poly, &10.0) {
        Ok(p) => [p.x(), p.y()],
        Err(_) => {
            let c = &poly.exterior().0[0];
            [c.x, c.y]
        }
    }
}

fn area_km2(la: &LonLatLa) -> f64 {
    let total: f64 = la
        .iter()
        .map(|part| {
            let ring = |r: &Vec<[f64; 2]>| {
                geo::LineString::from(r.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
            };
            geo::Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect())
                .geodesic_area_unsigned()
        })
        .sum();
    (total / 1e4).round() / 100.0
}
