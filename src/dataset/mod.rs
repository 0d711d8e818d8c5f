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
pub mod dissolve;
pub mod generalise;
pub mod problems;
pub mod rings;
pub mod split;
pub mod tables;
pub mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use geo::GeodesicArea;
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::model::{Inherited, LaFacts, LaRole, LocalAuthority, MadeOf, Partnership, Value};
use crate::schema::{self, Field};
use crate::tile::{Merc, lonlat_to_merc, merc_to_lonlat};
pub use csv_table::CsvTable;
use generalise::TopoRing;
pub use problems::{LoadError, Problem};
pub use timeline::{GEOMETRIES_DIR, REORGANISATIONS_FILE, Timeline};

/// File name of the boundaries inside `--boundaries`.
pub const BOUNDARIES_FILE: &str = "england_upper_tier_las.geojson";
/// File name of the lower-tier districts inside `--boundaries` (needed only when a
/// reorganisation makes an LA of whole districts).
pub const DISTRICTS_FILE: &str = "england_districts.geojson";
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

/// The input files.
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
    /// `reorganisations.csv`, if the data directory has one.
    pub reorganisations: Option<InputFile>,
    /// Lower-tier district polygons, if the boundaries directory has them.
    pub districts: Option<InputFile>,
    /// The data directory, as shown in messages.
    pub data_dir: String,
    /// The `*.geojson` files of `geometries/` in the data directory (boundaries of new LAs
    /// made of split districts), by path relative to the data directory.
    pub geometries: BTreeMap<String, InputFile>,
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
        let mut inputs = Self {
            boundaries: read(boundaries_dir, BOUNDARIES_FILE),
            local_authorities: read(data_dir, LA_FILE),
            partnerships: read(data_dir, PARTNERSHIPS_FILE),
            roles: read(data_dir, ROLES_FILE),
            reorganisations: None,
            districts: None,
            data_dir: data_dir.display().to_string(),
            geometries: BTreeMap::new(),
        };
        if data_dir.join(REORGANISATIONS_FILE).exists() {
            inputs.reorganisations = Some(read(data_dir, REORGANISATIONS_FILE));
        }
        if boundaries_dir.join(DISTRICTS_FILE).exists() {
            inputs.districts = Some(read(boundaries_dir, DISTRICTS_FILE));
        }
        let geometries = data_dir.join(GEOMETRIES_DIR);
        if geometries.is_dir() {
            match std::fs::read_dir(&geometries) {
                Ok(entries) => {
                    for entry in entries.flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name.ends_with(".geojson") && entry.path().is_file() {
                            let file = read(&geometries, &name);
                            inputs
                                .geometries
                                .insert(format!("{GEOMETRIES_DIR}/{name}"), file);
                        }
                    }
                }
                Err(e) => {
                    errors.push(
                        geometries.display().to_string(),
                        None,
                        format!("cannot read folder: {e}"),
                    );
                }
            }
        }
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
        let reorganisations = self.reorganisations.as_ref().and_then(&mut parse);
        errors.into_result(())?;
        match t {
            (Some(local_authorities), Some(partnerships), Some(roles)) => Ok(Tables {
                local_authorities,
                partnerships,
                roles,
                reorganisations,
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

/// The three CSV tables, editable and writable back byte for byte, and the reorganisation
/// table they are read with (not editable through the change log: a release changes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// `local_authorities.csv`.
    pub local_authorities: CsvTable,
    /// `partnerships.csv`.
    pub partnerships: CsvTable,
    /// `la_school_improvement.csv`.
    pub roles: CsvTable,
    /// `reorganisations.csv`, if there is one.
    pub reorganisations: Option<CsvTable>,
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
    /// LAs in table order, then the LAs the reorganisations make, each with its lifetime.
    pub las: Vec<LocalAuthority>,
    /// The reorganisations and their vintages.
    pub timeline: Timeline,
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
            tables.reorganisations.as_ref(),
            &mut errors,
        );
        errors.into_result(records)
    }

    /// Validate whichever tables could be read, recording every problem; what is valid is
    /// returned, so the remaining checks (boundaries against LA codes) can still run.
    fn parse(
        t: [Option<&CsvTable>; 3],
        reorganisations: Option<&CsvTable>,
        errors: &mut LoadError,
    ) -> Self {
        let mut las = t[0].map_or_else(Vec::new, |t| tables::parse_local_authorities(t, errors));
        let rows =
            reorganisations.map_or_else(Vec::new, |t| tables::parse_reorganisations(t, errors));
        if let Some(rt) = reorganisations.filter(|_| t[0].is_some()) {
            timeline::apply(&mut las, &rows, &rt.path, errors);
        }
        let timeline = Timeline::new(rows);
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
            timeline,
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

/// Every LA's full-resolution polygons over all time (the shipped boundaries, and the LAs
/// reorganisations make), and each vintage's prepared [`Geometry`], built on first use and
/// shared by every data version of that vintage.
#[derive(Debug)]
pub struct Shapes {
    /// Hash of the boundary file.
    pub boundaries_hash: u64,
    /// Hash of `reorganisations.csv` and the districts: part of the data version of every
    /// vintage after the first.
    pub timeline_hash: u64,
    /// The reorganisations and their vintages.
    pub timeline: Timeline,
    /// Per LA code, of every vintage, its polygon parts in lon/lat.
    pub lonlat: HashMap<String, LonLatLa>,
    /// Per group of new LAs made with a boundary file, the coverage measured by area.
    pub coverage: Vec<split::Measured>,
    /// The boundary files of new LAs made of split districts, as read: path relative to the
    /// data directory (`geometries/<code>.geojson`) and text (`data export` writes them back).
    pub geometry_files: BTreeMap<String, String>,
    /// Boundary features joined through a former code.
    pub joined_by_former_code: Vec<(String, String)>,
    /// Highest prepared zoom.
    pub max_zoom: u8,
    /// Per vintage, its prepared geometry once built.
    vintages: Vec<std::sync::OnceLock<Arc<Geometry>>>,
}

impl Shapes {
    /// The prepared geometry of vintage `k`, whose LAs in force are `las` (built the first
    /// time, a second or two; then shared).
    fn geometry(&self, k: usize, las: &[LocalAuthority]) -> Arc<Geometry> {
        let build = || {
            let lonlat = las
                .iter()
                .map(|l| self.lonlat.get(&l.code).cloned().unwrap_or_default())
                .collect();
            Arc::new(Geometry::build(
                self.boundaries_hash,
                las,
                lonlat,
                self.joined_by_former_code.clone(),
                self.max_zoom,
            ))
        };
        match self.vintages.get(k) {
            Some(cell) => Arc::clone(cell.get_or_init(build)),
            None => build(),
        }
    }

    /// Whether vintage `k`'s geometry is built already.
    #[must_use]
    pub fn is_built(&self, k: usize) -> bool {
        self.vintages.get(k).is_some_and(|c| c.get().is_some())
    }
}

/// The loaded, validated, prepared dataset of one vintage (one set of LAs in force).
#[derive(Debug)]
pub struct Dataset {
    /// Hash of the boundaries and the published tables (see [`Inputs::version`]), and for a
    /// vintage after the first, of the reorganisations and the vintage's first day.
    pub version: String,
    /// Date the data last changed (`YYYY-MM-DD`), if known.
    pub data_as_of: Option<String>,
    /// The published tables, as `data export` writes them.
    pub tables: Tables,
    /// The vintage: index into `shapes.timeline.starts`.
    pub vintage: usize,
    /// Every LA of every vintage, each with its lifetime (for history and successors).
    pub all_las: Vec<LocalAuthority>,
    /// LAs in force in this vintage: `local_authorities.csv` order, then the LAs
    /// reorganisations made.
    pub las: Vec<LocalAuthority>,
    /// Partnerships in file order.
    pub partnerships: Vec<Partnership>,
    /// LA role rows in file order.
    pub roles: Vec<LaRole>,
    /// Per LA, the index of its partnerships (its own, then those it inherits).
    pub la_partnerships: Vec<Vec<usize>>,
    /// Per LA, the index of its role row (its own, or the one it inherits).
    pub la_role: Vec<Option<usize>>,
    /// Per LA, what it carries over from the LAs it replaces (`None` for an LA that replaces none).
    pub inherited: Vec<Option<Inherited>>,
    /// Per LA, the `local_authorities` layer attributes in schema order (absent = unknown).
    pub attributes: Vec<Vec<(String, Value)>>,
    /// Per LA, the `la_labels` layer attributes.
    pub label_attributes: Vec<Vec<(String, Value)>>,
    /// Polygons, index and label points of this vintage, shared between data versions.
    pub geometry: Arc<Geometry>,
    /// Every vintage's polygons.
    pub shapes: Arc<Shapes>,
    /// Counts for `check` and startup logs.
    pub summary: Summary,
}

impl Dataset {
    /// Read and prepare the dataset from disk (the first vintage).
    ///
    /// # Errors
    /// Every problem found, with file, line or feature, and column.
    pub fn load(boundaries_dir: &Path, data_dir: &Path, max_zoom: u8) -> Result<Self, LoadError> {
        Self::from_inputs(&Inputs::read(boundaries_dir, data_dir)?, max_zoom)
    }

    /// Validate and prepare from file contents (pure): the first vintage (the LAs of the
    /// shipped boundaries). [`Dataset::on_vintage`] gives the others.
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
        let reorganisation_table = inputs.reorganisations.as_ref().and_then(&mut parse);
        let records = Records::parse(
            [
                la_table.as_ref(),
                partnership_table.as_ref(),
                role_table.as_ref(),
            ],
            reorganisation_table.as_ref(),
            &mut errors,
        );
        let boundaries = boundaries::parse_boundaries(
            &inputs.boundaries.path,
            &inputs.boundaries.content,
            &mut errors,
        );
        let shipped: Vec<LocalAuthority> =
            records.las.iter().filter(|l| l.line > 0).cloned().collect();
        let (geometry, joined_by_former_code) = join_boundaries(
            &shipped,
            boundaries,
            &inputs.boundaries.path,
            &inputs.local_authorities.path,
            &mut errors,
        );
        let mut lonlat: HashMap<String, LonLatLa> = shipped
            .iter()
            .map(|l| l.code.clone())
            .zip(geometry)
            .collect();
        let coverage = make_new_las(&records.timeline, inputs, &mut lonlat, &mut errors);
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
            reorganisations: reorganisation_table,
        };
        let mut timeline_hash = xxhash_rust::xxh3::Xxh3::new();
        for f in [&inputs.reorganisations, &inputs.districts]
            .into_iter()
            .flatten()
            .chain(inputs.geometries.values())
        {
            timeline_hash.update(&(f.content.len() as u64).to_le_bytes());
            timeline_hash.update(f.content.as_bytes());
        }
        let shapes = Arc::new(Shapes {
            boundaries_hash: boundaries_hash(&inputs.boundaries.content),
            timeline_hash: timeline_hash.digest(),
            vintages: (0..records.timeline.starts.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            timeline: records.timeline.clone(),
            lonlat,
            coverage,
            geometry_files: inputs
                .geometries
                .iter()
                .map(|(name, f)| (name.clone(), f.content.clone()))
                .collect(),
            joined_by_former_code,
            max_zoom,
        });
        Ok(Self::assemble(
            shapes,
            0,
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
        let all: Vec<&str> = records.las.iter().map(|l| l.code.as_str()).collect();
        if all
            != self
                .all_las
                .iter()
                .map(|l| l.code.as_str())
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
            Arc::clone(&self.shapes),
            self.vintage,
            tables,
            records,
            data_as_of,
        ))
    }

    /// The same tables over vintage `k`'s LAs (pure; `k` past the last vintage reads as the last).
    #[must_use]
    pub fn on_vintage(&self, k: usize) -> Self {
        let k = k.min(self.shapes.timeline.starts.len().saturating_sub(1));
        let records = Records {
            las: self.all_las.clone(),
            timeline: self.shapes.timeline.clone(),
            partnerships: self.partnerships.clone(),
            roles: self.roles.clone(),
        };
        Self::assemble(
            Arc::clone(&self.shapes),
            k,
            self.tables.clone(),
            records,
            self.data_as_of.clone(),
        )
    }

    /// The vintages' timeline.
    #[must_use]
    pub fn timeline(&self) -> &Timeline {
        &self.shapes.timeline
    }

    /// First day of this dataset's vintage.
    #[must_use]
    pub fn vintage_start(&self) -> &str {
        self.shapes.timeline.start(self.vintage)
    }

    /// First day after this dataset's vintage, if a later one is known.
    #[must_use]
    pub fn vintage_end(&self) -> Option<&str> {
        self.shapes.timeline.end(self.vintage)
    }

    /// Derive indexes, inheritance, attributes, summary and version of vintage `vintage` from
    /// the shapes and records (pure).
    #[allow(clippy::too_many_lines)]
    fn assemble(
        shapes: Arc<Shapes>,
        vintage: usize,
        tables: Tables,
        records: Records,
        data_as_of: Option<String>,
    ) -> Self {
        let Records {
            las: all_las,
            partnerships,
            roles,
            ..
        } = records;
        let start = shapes.timeline.start(vintage).to_owned();
        let las: Vec<LocalAuthority> = all_las
            .iter()
            .filter(|l| l.in_force_on(&start))
            .cloned()
            .collect();
        let geometry = shapes.geometry(vintage, &las);
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
        let mut role_of: HashMap<&str, usize> = HashMap::new();
        for (ri, r) in roles.iter().enumerate() {
            role_of.insert(r.la_code.as_str(), ri);
            if let Some(&i) = index_of.get(r.la_code.as_str()) {
                la_role[i] = Some(ri);
            }
        }
        // What each new LA carries over: partnerships naming an LA it replaces (directly or
        // through an earlier reorganisation) but not itself, and the role row of the first
        // predecessor that has one, when it has none of its own.
        let by_code: HashMap<&str, &LocalAuthority> =
            all_las.iter().map(|l| (l.code.as_str(), l)).collect();
        let mut inherited = vec![None; las.len()];
        let mut predecessor_names = vec![Vec::new(); las.len()];
        for (i, la) in las.iter().enumerate() {
            if la.replaces.is_empty() {
                continue;
            }
            let mut ancestors: Vec<&str> = Vec::new();
            let mut todo: Vec<&str> = la.replaces.iter().map(String::as_str).collect();
            while let Some(c) = todo.pop() {
                if ancestors.contains(&c) {
                    continue;
                }
                ancestors.push(c);
                if let Some(l) = by_code.get(c) {
                    todo.extend(l.replaces.iter().map(String::as_str));
                }
            }
            predecessor_names[i] = la
                .replaces
                .iter()
                .map(|c| {
                    by_code
                        .get(c.as_str())
                        .map_or(c.clone(), |l| l.name.clone())
                })
                .collect();
            let mut inh = Inherited {
                from: la.replaces.clone(),
                ..Inherited::default()
            };
            for (pi, p) in partnerships.iter().enumerate() {
                if !p.la_codes.contains(&la.code)
                    && p.la_codes.iter().any(|c| ancestors.contains(&c.as_str()))
                {
                    inh.partnerships.push(pi);
                    la_partnerships[i].push(pi);
                }
            }
            if la_role[i].is_none()
                && let Some(&ri) = ancestors.iter().find_map(|c| role_of.get(c))
            {
                la_role[i] = Some(ri);
                inh.role = true;
            }
            inherited[i] = Some(inh);
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
                inherited: inherited[i].as_ref(),
                predecessor_names: &predecessor_names[i],
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
        let mut version = data_version(geometry.boundaries_hash, [&a, &b, &c]);
        if vintage > 0 {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(version.as_bytes());
            h.update(&shapes.timeline_hash.to_le_bytes());
            h.update(start.as_bytes());
            version = format!("{:016x}", h.digest());
        }
        Self {
            version,
            data_as_of,
            tables,
            vintage,
            all_las,
            las,
            partnerships,
            roles,
            la_partnerships,
            la_role,
            inherited,
            attributes,
            label_attributes,
            geometry,
            shapes,
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

    /// Names of the LAs with these codes, in the same order (codes of no LA ever left out).
    #[must_use]
    pub fn la_names<'a>(&'a self, codes: &[String]) -> Vec<&'a str> {
        codes.iter().filter_map(|c| self.name_of(c)).collect()
    }

    /// Name of the LA with this code, in force in this vintage or not.
    #[must_use]
    pub fn name_of(&self, code: &str) -> Option<&str> {
        self.all_las
            .iter()
            .find(|l| l.code == code)
            .map(|l| l.name.as_str())
    }

    /// The LA with this code, in force in this vintage or not.
    #[must_use]
    pub fn any_la(&self, code: &str) -> Option<&LocalAuthority> {
        self.all_las.iter().find(|l| l.code == code)
    }

    /// Index of the LA with this code among the LAs in force.
    #[must_use]
    pub fn la_index(&self, code: &str) -> Option<usize> {
        self.las.iter().position(|l| l.code == code)
    }
}

/// Make the polygons of the LAs the reorganisations create (districts dissolved, a boundary
/// file's polygons with whole districts, or a recoded LA's own), and check that on each vesting
/// date the new LAs cover exactly the area of the LAs they replace: no gap, no overlap, vertex
/// for vertex when they are made of whole districts and recodes; within
/// [`split::AREA_TOLERANCE`] of the area when a boundary file is involved.
#[allow(clippy::too_many_lines)]
fn make_new_las(
    timeline: &Timeline,
    inputs: &Inputs,
    lonlat: &mut HashMap<String, LonLatLa>,
    errors: &mut LoadError,
) -> Vec<split::Measured> {
    let mut measured = Vec::new();
    let rows = &timeline.reorganisations;
    let path = inputs
        .reorganisations
        .as_ref()
        .map_or(REORGANISATIONS_FILE, |f| f.path.as_str());
    // A boundary file no row reads is a misnamed file, or a row that forgot it.
    for (name, f) in &inputs.geometries {
        if !rows
            .iter()
            .any(|r| matches!(&r.made_of, MadeOf::Geometry { file, .. } if file == name))
        {
            errors.push(
                &f.path,
                None,
                format!(
                    "no row of {path} with made_of \"geometry\" reads this file (the file of a new LA is {})",
                    timeline::geometry_file("<new_code>")
                ),
            );
        }
    }
    if rows.is_empty() {
        return measured;
    }
    let needs_districts = rows.iter().any(|r| !r.made_of.whole_districts().is_empty());
    let districts: HashMap<String, LonLatLa> = match (&inputs.districts, needs_districts) {
        (Some(f), true) => boundaries::parse_boundaries(&f.path, &f.content, errors)
            .into_iter()
            .map(|b| (b.code, b.parts))
            .collect(),
        (None, true) => {
            errors.push(
                path,
                Some("made_of"),
                format!("a new LA is made of districts, but there is no {DISTRICTS_FILE} beside the boundaries"),
            );
            return measured;
        }
        _ => HashMap::new(),
    };
    // England's extent, from the shipped boundaries: a boundary file must lie inside it.
    let extent = lonlat_bounds(lonlat.values().flatten().flatten().flatten());
    let mut order: Vec<&crate::model::Reorganisation> = rows.iter().collect();
    order.sort_by(|a, b| {
        a.vesting_date
            .cmp(&b.vesting_date)
            .then(a.line.cmp(&b.line))
    });
    let mut used: HashMap<&str, usize> = HashMap::new();
    for r in &order {
        let at = format!("{path}:{}", r.line);
        let mut whole = Vec::new();
        for c in r.made_of.whole_districts() {
            if let Some(first) = used.insert(c.as_str(), r.line) {
                errors.push(
                    &at,
                    Some("districts"),
                    format!("district {c} is already part of the LA on line {first}"),
                );
            }
            match districts.get(c) {
                Some(d) => whole.push(d),
                None => errors.push(
                    &at,
                    Some("districts"),
                    format!("no district {c} in {DISTRICTS_FILE}"),
                ),
            }
        }
        let shape = match &r.made_of {
            MadeOf::Recode => lonlat.get(&r.abolished[0]).cloned(),
            MadeOf::Districts(_) => Some(dissolve::dissolve(&whole)),
            MadeOf::Geometry { file, .. } => match inputs.geometries.get(file) {
                None => {
                    errors.push(
                        &at,
                        Some("made_of"),
                        format!(
                            "made_of is \"geometry\" but {} does not exist (the boundary of a new LA made of split districts)",
                            Path::new(&inputs.data_dir).join(file).display()
                        ),
                    );
                    None
                }
                Some(f) => {
                    split::read_geometry_file(f, &r.new_code, extent, errors).map(|features| {
                        let dissolved = (!whole.is_empty()).then(|| dissolve::dissolve(&whole));
                        let pieces: Vec<&LonLatLa> =
                            features.iter().chain(dissolved.as_ref()).collect();
                        split::union(&pieces)
                    })
                }
            },
        };
        if let Some(shape) = shape {
            lonlat.insert(r.new_code.clone(), shape);
        }
    }
    // Per vesting date and group of abolished LAs: the new LAs' union is exactly theirs.
    let mut groups: Vec<(&str, Vec<&crate::model::Reorganisation>)> = Vec::new();
    for r in order {
        match groups.iter_mut().find(|(d, g)| {
            *d == r.vesting_date
                && g.iter()
                    .any(|o| o.abolished.iter().any(|a| r.abolished.contains(a)))
        }) {
            Some((_, g)) => g.push(r),
            None => groups.push((&r.vesting_date, vec![r])),
        }
    }
    for (date, group) in groups {
        let mut old: Vec<&str> = group
            .iter()
            .flat_map(|r| r.abolished.iter().map(String::as_str))
            .collect();
        old.sort_unstable();
        old.dedup();
        let new_pieces: Vec<&LonLatLa> = group
            .iter()
            .filter_map(|r| lonlat.get(&r.new_code))
            .collect();
        let old_pieces: Vec<&LonLatLa> = old.iter().filter_map(|c| lonlat.get(*c)).collect();
        if new_pieces.len() != group.len() || old_pieces.len() != old.len() {
            continue; // reported above
        }
        let names: Vec<&str> = group.iter().map(|r| r.new_name.as_str()).collect();
        if group
            .iter()
            .any(|r| matches!(r.made_of, MadeOf::Geometry { .. }))
        {
            let coverage = split::Coverage::measure(&old_pieces, &new_pieces);
            report_coverage(path, date, &group, &old, &coverage, errors);
            measured.push(split::Measured {
                date: date.to_owned(),
                replaced: old.iter().map(|c| (*c).to_owned()).collect(),
                new: group.iter().map(|r| r.new_code.clone()).collect(),
                coverage,
            });
        } else if !dissolve::same_rings(
            &dissolve::dissolve(&new_pieces),
            &dissolve::dissolve(&old_pieces),
        ) {
            errors.push(
                format!("{path}:{}", group[0].line),
                Some("districts"),
                format!(
                    "on {date}, {} do not cover exactly the area of {} (a district is missing, repeated, or its border does not match vertex for vertex)",
                    names.join(" and "),
                    old.join(", ")
                ),
            );
        }
    }
    measured
}

/// Record every measure of `coverage` beyond [`split::AREA_TOLERANCE`], at the row concerned,
/// with the measured share of the old area.
fn report_coverage(
    path: &str,
    date: &str,
    group: &[&crate::model::Reorganisation],
    old: &[&str],
    coverage: &split::Coverage,
    errors: &mut LoadError,
) {
    let tolerance = split::AREA_TOLERANCE;
    let allowed = format!("{:.2} %", tolerance * 100.0);
    let old = old.join(", ");
    let names: Vec<&str> = group.iter().map(|r| r.new_name.as_str()).collect();
    let at = |r: &crate::model::Reorganisation| format!("{path}:{}", r.line);
    let what = |r: &crate::model::Reorganisation| match &r.made_of {
        MadeOf::Geometry { file, .. } => format!("{} ({file})", r.new_name),
        _ => r.new_name.clone(),
    };
    if coverage.sum_difference.abs() >= tolerance {
        errors.push(
            at(group[0]),
            Some("made_of"),
            format!(
                "on {date}, the areas of {} add up to {:.2} km², {:+.4} % of the {:.2} km² of {old} they replace (more than the {allowed} allowed: a piece is missing, repeated or outside)",
                names.join(" and "),
                coverage.new_km2.iter().sum::<f64>(),
                coverage.sum_difference * 100.0,
                coverage.old_km2,
            ),
        );
    }
    if coverage.gap >= tolerance {
        errors.push(
            at(group[0]),
            Some("made_of"),
            format!(
                "on {date}, {:.4} % of the area of {old} is in none of {} (a gap; more than the {allowed} allowed)",
                coverage.gap * 100.0,
                names.join(" and "),
            ),
        );
    }
    for &(i, j, share) in &coverage.overlaps {
        if share >= tolerance {
            errors.push(
                at(group[j]),
                Some("made_of"),
                format!(
                    "on {date}, {} and {} overlap on {:.4} % of the area of {old} (more than the {allowed} allowed)",
                    what(group[i]),
                    what(group[j]),
                    share * 100.0,
                ),
            );
        }
    }
    for (i, &share) in coverage.outside.iter().enumerate() {
        if share >= tolerance {
            errors.push(
                at(group[i]),
                Some("made_of"),
                format!(
                    "on {date}, {} reaches outside {old}, the area it replaces, by {:.4} % of that area (more than the {allowed} allowed)",
                    what(group[i]),
                    share * 100.0,
                ),
            );
        }
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
    pub fn build(
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
