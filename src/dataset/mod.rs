//! Stage 0: load, validate and prepare the dataset.
//!
//! `Dataset::load` reads `boundaries/` and `data/`; `Dataset::from_inputs` does all the work on
//! file contents, so tests can feed broken copies without touching the disk. A dataset has two
//! halves: [`Geometry`] (per-zoom simplified polygons, an R-tree, label points), built once from
//! the boundaries and shared (`Arc`) by every data version over them, and the records (the three
//! CSV tables, validated into LAs, partnerships and roles, with each LA's tile attributes).
//! [`Dataset::with_tables`] rebuilds only the records half, which is how an edit is published.
//! A dataset is immutable and shared (`Arc`) by every request.

pub mod boundaries;
pub mod csv_table;
pub mod generalise;
pub mod problems;
pub mod rings;
pub mod tables;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use geo::GeodesicArea;
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::model::{LaFacts, LaRole, LocalAuthority, Partnership, Value};
use crate::schema::{self, Field};
use crate::tile::{Merc, lonlat_to_merc, merc_to_lonlat};
pub use csv_table::CsvTable;
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

    /// The data version these files give with an empty change log (see [`Dataset::version`]).
    #[must_use]
    pub fn version(&self) -> String {
        data_version(
            boundaries_hash(&self.boundaries.content),
            [
                self.local_authorities.content.as_str(),
                self.partnerships.content.as_str(),
                self.roles.content.as_str(),
            ],
        )
    }
}

impl Inputs {
    /// Hash of the boundary file (what [`Geometry::boundaries_hash`] holds).
    #[must_use]
    pub fn boundaries_hash(&self) -> u64 {
        boundaries_hash(&self.boundaries.content)
    }

    /// The three CSV files as editable tables.
    ///
    /// # Errors
    /// Every malformed record or unreadable header.
    pub fn tables(&self) -> Result<Tables, LoadError> {
        let mut errors = LoadError::default();
        let mut parse = |f: &InputFile| CsvTable::parse(&f.path, &f.content, &mut errors);
        let t = (
            parse(&self.local_authorities),
            parse(&self.partnerships),
            parse(&self.roles),
        );
        errors.into_result(())?;
        match t {
            (Some(local_authorities), Some(partnerships), Some(roles)) => Ok(Tables {
                local_authorities,
                partnerships,
                roles,
            }),
            _ => Err(LoadError::default()),
        }
    }
}

/// Hash of the boundary file's bytes.
fn boundaries_hash(content: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(content.as_bytes())
}

/// The data version: a short hash of the boundaries and of the three tables exactly as
/// `partnership-map data export` would write them. Shipped files with an empty change log, and
/// the export of the same published data, therefore have the same version.
fn data_version(boundaries: u64, tables: [&str; 3]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&boundaries.to_le_bytes());
    for t in tables {
        h.update(&(t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    format!("{:016x}", h.digest())
}

/// The three CSV tables, editable and writable back byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// `local_authorities.csv`.
    pub local_authorities: CsvTable,
    /// `partnerships.csv`.
    pub partnerships: CsvTable,
    /// `la_school_improvement.csv`.
    pub roles: CsvTable,
}

impl Tables {
    /// The three files' text, as `data export` writes them: `(file name, text)`.
    #[must_use]
    pub fn files(&self) -> [(&'static str, String); 3] {
        [
            (LA_FILE, self.local_authorities.to_csv()),
            (PARTNERSHIPS_FILE, self.partnerships.to_csv()),
            (ROLES_FILE, self.roles.to_csv()),
        ]
    }
}

/// The typed records validated from [`Tables`].
#[derive(Debug, Clone)]
pub struct Records {
    /// LAs in table order.
    pub las: Vec<LocalAuthority>,
    /// Partnerships in table order.
    pub partnerships: Vec<Partnership>,
    /// Role rows in table order.
    pub roles: Vec<LaRole>,
}

impl Records {
    /// Validate the tables with the loader's rules (pure).
    ///
    /// # Errors
    /// Every problem, as `file:line: column: message`.
    pub fn validate(tables: &Tables) -> Result<Self, LoadError> {
        let mut errors = LoadError::default();
        let records = Self::parse(
            [
                Some(&tables.local_authorities),
                Some(&tables.partnerships),
                Some(&tables.roles),
            ],
            &mut errors,
        );
        errors.into_result(records)
    }

    /// Validate whichever tables could be read, recording every problem; what is valid is
    /// returned, so the remaining checks (boundaries against LA codes) can still run.
    fn parse(t: [Option<&CsvTable>; 3], errors: &mut LoadError) -> Self {
        let las = t[0].map_or_else(Vec::new, |t| tables::parse_local_authorities(t, errors));
        let by_name: HashMap<String, String> = las
            .iter()
            .map(|l| (l.name.clone(), l.code.clone()))
            .collect();
        let partnerships = t[1].map_or_else(Vec::new, |t| {
            tables::parse_partnerships(t, &by_name, errors)
        });
        let roles = t[2].map_or_else(Vec::new, |t| tables::parse_roles(t, &by_name, errors));
        Self {
            las,
            partnerships,
            roles,
        }
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

/// Everything derived from the boundaries: built once, shared by every data version over them.
/// Indexed like the LAs of `local_authorities.csv` (`codes`).
#[derive(Debug)]
pub struct Geometry {
    /// Hash of the boundary file.
    pub boundaries_hash: u64,
    /// Codes of the LAs, in table order, that the geometry was joined to.
    pub codes: Vec<String>,
    /// Every LA's rings at every prepared zoom, one packed copy (read them with
    /// [`Geometry::zoom_parts`], or ring by ring through [`rings::PackedRings`]).
    pub rings: rings::PackedRings,
    /// Highest prepared zoom.
    pub max_zoom: u8,
    /// Full-resolution bounding boxes of every polygon part.
    pub index: RTree<PartEntry>,
    /// Per LA, the label point (pole of inaccessibility of its largest part), Mercator.
    pub labels: Vec<Merc>,
    /// Lon/lat bounds `[west, south, east, north]`.
    pub bounds: [f64; 4],
    /// Per LA, lon/lat bounds `[west, south, east, north]`.
    pub la_bounds: Vec<[f64; 4]>,
    /// Per LA, the full-resolution polygon parts in lon/lat (closed rings), for downloads and OGC API.
    pub lonlat: Vec<LonLatLa>,
    /// Per LA, geodesic area in km².
    pub areas: Vec<f64>,
    /// Boundary features joined through a former code.
    pub joined_by_former_code: Vec<(String, String)>,
    /// Vertices in the boundaries.
    pub vertices: usize,
}

/// The loaded, validated, prepared dataset.
#[derive(Debug)]
pub struct Dataset {
    /// Hash of the boundaries and the published tables (see [`Inputs::version`]).
    pub version: String,
    /// Date the data last changed (`YYYY-MM-DD`), if known.
    pub data_as_of: Option<String>,
    /// The published tables, as `data export` writes them.
    pub tables: Tables,
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
    /// Polygons, index and label points, shared between data versions.
    pub geometry: Arc<Geometry>,
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
        let mut parse = |f: &InputFile| CsvTable::parse(&f.path, &f.content, &mut errors);
        let (la_table, partnership_table, role_table) = (
            parse(&inputs.local_authorities),
            parse(&inputs.partnerships),
            parse(&inputs.roles),
        );
        let records = Records::parse(
            [
                la_table.as_ref(),
                partnership_table.as_ref(),
                role_table.as_ref(),
            ],
            &mut errors,
        );
        let boundaries = boundaries::parse_boundaries(
            &inputs.boundaries.path,
            &inputs.boundaries.content,
            &mut errors,
        );
        let (geometry, joined_by_former_code) = join_boundaries(
            &records.las,
            boundaries,
            &inputs.boundaries.path,
            &inputs.local_authorities.path,
            &mut errors,
        );
        errors.into_result(())?;
        let (Some(local_authorities), Some(partnerships), Some(roles)) =
            (la_table, partnership_table, role_table)
        else {
            // Unreachable: a table that could not be read was reported above.
            return Err(LoadError::default());
        };
        let tables = Tables {
            local_authorities,
            partnerships,
            roles,
        };
        let geometry = Arc::new(Geometry::build(
            boundaries_hash(&inputs.boundaries.content),
            &records.las,
            geometry,
            joined_by_former_code,
            max_zoom,
        ));
        Ok(Self::assemble(
            geometry,
            tables,
            records,
            inputs.data_as_of(),
        ))
    }

    /// The same geometry with other tables: how an edit or a reload of the CSV files is
    /// published without simplifying the boundaries again (pure).
    ///
    /// # Errors
    /// Every problem in the tables, or the LA codes no longer matching the geometry's.
    pub fn with_tables(
        &self,
        tables: Tables,
        data_as_of: Option<String>,
    ) -> Result<Self, LoadError> {
        let records = Records::validate(&tables)?;
        let codes: Vec<&str> = records.las.iter().map(|l| l.code.as_str()).collect();
        if codes
            != self
                .geometry
                .codes
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        {
            let mut e = LoadError::default();
            e.push(
                &tables.local_authorities.path,
                Some("code"),
                "the LA codes or their order changed; the boundaries must be joined again (restart or reload)",
            );
            return Err(e);
        }
        Ok(Self::assemble(
            Arc::clone(&self.geometry),
            tables,
            records,
            data_as_of,
        ))
    }

    /// Derive indexes, attributes, summary and version from geometry and records (pure).
    fn assemble(
        geometry: Arc<Geometry>,
        tables: Tables,
        records: Records,
        data_as_of: Option<String>,
    ) -> Self {
        let Records {
            las,
            partnerships,
            roles,
        } = records;
        let index_of: HashMap<&str, usize> = las
            .iter()
            .enumerate()
            .map(|(i, l)| (l.code.as_str(), i))
            .collect();
        let mut la_partnerships = vec![Vec::new(); las.len()];
        for (pi, p) in partnerships.iter().enumerate() {
            for c in &p.la_codes {
                if let Some(&i) = index_of.get(c.as_str()) {
                    la_partnerships[i].push(pi);
                }
            }
        }
        let mut la_role = vec![None; las.len()];
        for (ri, r) in roles.iter().enumerate() {
            if let Some(&i) = index_of.get(r.la_code.as_str()) {
                la_role[i] = Some(ri);
            }
        }
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
                area_km2: geometry.areas.get(i).copied().unwrap_or(0.0),
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
            joined_by_former_code: geometry.joined_by_former_code.clone(),
            vertices: geometry.vertices,
        };
        let [a, b, c] = tables.files().map(|(_, text)| text);
        let version = data_version(geometry.boundaries_hash, [&a, &b, &c]);
        Self {
            version,
            data_as_of,
            tables,
            las,
            partnerships,
            roles,
            la_partnerships,
            la_role,
            attributes,
            label_attributes,
            geometry,
            summary,
        }
    }

    /// Highest zoom prepared.
    #[must_use]
    pub fn max_zoom(&self) -> u8 {
        self.geometry.max_zoom
    }

    /// Label point of LA `i` in lon/lat.
    #[must_use]
    pub fn label_lonlat(&self, i: usize) -> [f64; 2] {
        merc_to_lonlat(self.geometry.labels[i])
    }

    /// Names of the LAs with these codes, in the same order (unknown codes left out).
    #[must_use]
    pub fn la_names<'a>(&'a self, codes: &[String]) -> Vec<&'a str> {
        codes
            .iter()
            .filter_map(|c| {
                self.las
                    .iter()
                    .find(|l| &l.code == c)
                    .map(|l| l.name.as_str())
            })
            .collect()
    }

    /// Index of the LA with this code.
    #[must_use]
    pub fn la_index(&self, code: &str) -> Option<usize> {
        self.las.iter().position(|l| l.code == code)
    }
}

impl Geometry {
    /// The polygon parts of LA `la` as drawn at zoom `z`, in Mercator metres: per part (indexed
    /// like the R-tree's part numbers), its rings, exterior first, open (no closing duplicate).
    /// A part whose exterior vanishes at this zoom is an empty list. Zooms above the prepared
    /// maximum read as the maximum.
    #[must_use]
    pub fn zoom_parts(&self, la: usize, z: u8) -> Vec<ZoomPart> {
        let z = z.min(self.max_zoom);
        (0..self.rings.part_count(la))
            .map(|part| {
                self.rings
                    .part_rings(la, part, z)
                    .map(|ring| {
                        let mut points = Vec::new();
                        self.rings.ring_points(ring, z, None, &mut points);
                        points
                    })
                    .collect()
            })
            .collect()
    }

    /// Simplify shared borders, index parts and place labels (the slow part of a load).
    fn build(
        boundaries_hash: u64,
        las: &[LocalAuthority],
        lonlat: Vec<LonLatLa>,
        joined_by_former_code: Vec<(String, String)>,
        max_zoom: u8,
    ) -> Self {
        // Areas need only the input rings; labels, rings and the index need the topology. The
        // areas run beside that chain, and labels beside the rings and index (a load is the
        // time to the first tile).
        let (areas, (rings, index, labels)) = rayon::join(
            || lonlat.par_iter().map(area_km2).collect::<Vec<_>>(),
            || {
                let topo = generalise::build_topology(&lonlat, lonlat_to_merc);
                let ((rings, index), labels) = rayon::join(
                    || {
                        let rings = rings::PackedRings::build(&topo, max_zoom);
                        (rings, part_index(&topo))
                    },
                    || {
                        topo.par_iter()
                            .map(|la| label_point(la))
                            .collect::<Vec<_>>()
                    },
                );
                (rings, index, labels)
            },
        );
        Self {
            boundaries_hash,
            codes: las.iter().map(|l| l.code.clone()).collect(),
            rings,
            max_zoom,
            index,
            labels,
            bounds: lonlat_bounds(lonlat.iter().flatten().flatten().flatten()),
            la_bounds: lonlat
                .iter()
                .map(|la| lonlat_bounds(la.iter().flatten().flatten()))
                .collect(),
            areas,
            vertices: lonlat.iter().flatten().flatten().map(Vec::len).sum(),
            lonlat,
            joined_by_former_code,
        }
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

fn bbox(coords: &[Merc]) -> (Merc, Merc) {
    let mut lo = [f64::MAX, f64::MAX];
    let mut hi = [f64::MIN, f64::MIN];
    for p in coords {
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    (lo, hi)
}

/// The R-tree of every LA part's bounding box, labelled `(la, part)`.
fn part_index(topo: &[Vec<Vec<TopoRing>>]) -> RTree<PartEntry> {
    RTree::bulk_load(
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
    )
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
