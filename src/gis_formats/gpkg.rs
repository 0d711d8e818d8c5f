//! GeoPackage 1.3 writer: one feature table in an in-memory SQLite database (rusqlite), its
//! geometries as GeoPackage binary (header, envelope, then WKB) written by geozero, with the
//! required `gpkg_spatial_ref_sys`, `gpkg_contents` and `gpkg_geometry_columns`, an R-tree
//! spatial index (`gpkg_rtree_index` extension, with its triggers so edits in QGIS keep it
//! current), field descriptions in `gpkg_data_columns`, and `application_id`/`user_version`
//! set so GDAL and QGIS recognise the file. The bytes are the serialised database.

use geozero::wkb::{WkbDialect, WkbWriter};
use geozero::{CoordDimensions, GeozeroGeometry};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, MAIN_DB, params, params_from_iter};

use super::{Cell, ColumnType, GeometryKind, GisError, Layer};

/// `application_id` of a GeoPackage: "GPKG" in ASCII.
pub const APPLICATION_ID: i32 = 0x4750_4B47;
/// `user_version` of GeoPackage 1.3.0.
pub const USER_VERSION: i32 = 10300;
/// The geometry column's name (GDAL's default).
pub const GEOMETRY_COLUMN: &str = "geom";
/// WGS 84 (longitude, latitude), the only CRS written.
pub const SRS_ID: i32 = 4326;

/// EPSG:4326 as GDAL writes it into `gpkg_spatial_ref_sys`.
const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// The tables every GeoPackage has (GeoPackage 1.3, annex C), plus the extensions table and
/// the schema extension's data columns.
const CORE_TABLES: &str = "
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE gpkg_tile_matrix_set (
  table_name TEXT NOT NULL PRIMARY KEY,
  srs_id INTEGER NOT NULL,
  min_x DOUBLE NOT NULL, min_y DOUBLE NOT NULL, max_x DOUBLE NOT NULL, max_y DOUBLE NOT NULL,
  CONSTRAINT fk_gtms_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gtms_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE gpkg_tile_matrix (
  table_name TEXT NOT NULL,
  zoom_level INTEGER NOT NULL,
  matrix_width INTEGER NOT NULL,
  matrix_height INTEGER NOT NULL,
  tile_width INTEGER NOT NULL,
  tile_height INTEGER NOT NULL,
  pixel_x_size DOUBLE NOT NULL,
  pixel_y_size DOUBLE NOT NULL,
  CONSTRAINT pk_ttm PRIMARY KEY (table_name, zoom_level),
  CONSTRAINT fk_tmm_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name)
);
CREATE TABLE gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
CREATE TABLE gpkg_data_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  name TEXT,
  title TEXT,
  description TEXT,
  mime_type TEXT,
  constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name)
);
CREATE TABLE gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL,
  constraint_type TEXT NOT NULL,
  value TEXT,
  min NUMERIC,
  min_is_inclusive BOOLEAN,
  max NUMERIC,
  max_is_inclusive BOOLEAN,
  description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value)
);
";

/// A SQL identifier in double quotes.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "TEXT",
        // What GDAL writes for 32-bit integers; INTEGER is 64-bit in a GeoPackage.
        ColumnType::Integer => "MEDIUMINT",
        ColumnType::BigInteger => "INTEGER",
        ColumnType::Real => "REAL",
        ColumnType::Boolean => "BOOLEAN",
    }
}

fn geometry_type_name(kind: GeometryKind) -> &'static str {
    match kind {
        GeometryKind::MultiPolygon => "MULTIPOLYGON",
        GeometryKind::MultiPoint => "MULTIPOINT",
    }
}

/// The GeoPackage geometry blob of `g`: header with SRS and envelope, then little-endian WKB.
///
/// # Errors
/// geozero's, for a geometry it cannot write.
pub fn geometry_blob(g: &impl GeozeroGeometry, bbox: [f64; 4]) -> Result<Vec<u8>, GisError> {
    let mut out = Vec::new();
    // The GeoPackage envelope is [min_x, max_x, min_y, max_y].
    let envelope = vec![bbox[0], bbox[2], bbox[1], bbox[3]];
    let mut w = WkbWriter::with_opts(
        &mut out,
        WkbDialect::Geopackage,
        CoordDimensions::xy(),
        Some(SRS_ID),
        envelope,
    );
    g.process_geom(&mut w)?;
    Ok(out)
}

/// The six triggers of the R-tree extension (GeoPackage 1.3, F.3), which keep the index
/// current when a GIS edits the table. They call `ST_*` functions that GDAL provides; reading
/// never runs them.
fn rtree_triggers(t: &str, c: &str, i: &str) -> String {
    let rt = format!("rtree_{t}_{c}");
    let (qt, qc, qrt) = (quoted(t), quoted(c), quoted(&rt));
    let values = format!(
        "INSERT OR REPLACE INTO {qrt} VALUES (NEW.{i}, ST_MinX(NEW.{qc}), ST_MaxX(NEW.{qc}), ST_MinY(NEW.{qc}), ST_MaxY(NEW.{qc}));"
    );
    let name = |s: &str| quoted(&format!("{rt}_{s}"));
    format!(
        "CREATE TRIGGER {insert} AFTER INSERT ON {qt} WHEN (NEW.{qc} NOT NULL AND NOT ST_IsEmpty(NEW.{qc})) BEGIN {values} END;
CREATE TRIGGER {update1} AFTER UPDATE OF {qc} ON {qt} WHEN OLD.{i} = NEW.{i} AND (NEW.{qc} NOTNULL AND NOT ST_IsEmpty(NEW.{qc})) BEGIN {values} END;
CREATE TRIGGER {update2} AFTER UPDATE OF {qc} ON {qt} WHEN OLD.{i} = NEW.{i} AND (NEW.{qc} ISNULL OR ST_IsEmpty(NEW.{qc})) BEGIN DELETE FROM {qrt} WHERE id = OLD.{i}; END;
CREATE TRIGGER {update3} AFTER UPDATE ON {qt} WHEN OLD.{i} != NEW.{i} AND (NEW.{qc} NOTNULL AND NOT ST_IsEmpty(NEW.{qc})) BEGIN DELETE FROM {qrt} WHERE id = OLD.{i}; {values} END;
CREATE TRIGGER {update4} AFTER UPDATE ON {qt} WHEN OLD.{i} != NEW.{i} AND (NEW.{qc} ISNULL OR ST_IsEmpty(NEW.{qc})) BEGIN DELETE FROM {qrt} WHERE id IN (OLD.{i}, NEW.{i}); END;
CREATE TRIGGER {delete} AFTER DELETE ON {qt} WHEN old.{qc} NOT NULL BEGIN DELETE FROM {qrt} WHERE id = OLD.{i}; END;",
        insert = name("insert"),
        update1 = name("update1"),
        update2 = name("update2"),
        update3 = name("update3"),
        update4 = name("update4"),
        delete = name("delete"),
    )
}

/// `layer` as a GeoPackage file (pure: the same layer gives the same bytes).
///
/// # Errors
/// [`GisError`] if SQLite or geozero fails (a bug: the layer was checked when built).
pub fn write(layer: &Layer<'_>) -> Result<Vec<u8>, GisError> {
    let db = Connection::open_in_memory()?;
    db.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {USER_VERSION};"
    ))?;
    let tx = db.unchecked_transaction()?;
    tx.execute_batch(CORE_TABLES)?;
    let srs = "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    tx.execute(
        srs,
        params![
            "WGS 84 geodetic",
            SRS_ID,
            "EPSG",
            SRS_ID,
            WGS84_WKT,
            "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"
        ],
    )?;
    tx.execute(
        srs,
        params![
            "Undefined cartesian SRS",
            -1,
            "NONE",
            -1,
            "undefined",
            "undefined cartesian coordinate reference system"
        ],
    )?;
    tx.execute(
        srs,
        params![
            "Undefined geographic SRS",
            0,
            "NONE",
            0,
            "undefined",
            "undefined geographic coordinate reference system"
        ],
    )?;
    let t = layer.name.as_str();
    let extent = layer.extent();
    // A fixed time (the data's date), so the same data gives the same file and ETag.
    let last_change = format!(
        "{}T00:00:00.000Z",
        layer.last_change.as_deref().unwrap_or("1970-01-01")
    );
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, min_x, min_y, max_x, max_y, srs_id) VALUES (?1, 'features', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            t,
            layer.title,
            layer.description,
            last_change,
            extent.map(|e| e[0]),
            extent.map(|e| e[1]),
            extent.map(|e| e[2]),
            extent.map(|e| e[3]),
            SRS_ID
        ],
    )?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, ?2, ?3, ?4, 0, 0)",
        params![t, GEOMETRY_COLUMN, geometry_type_name(layer.kind), SRS_ID],
    )?;
    let columns: Vec<String> = layer
        .columns
        .iter()
        .map(|c| format!("{} {}", quoted(&c.name), sql_type(c.ty)))
        .collect();
    tx.execute_batch(&format!(
        "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {} {}{}{});",
        quoted(t),
        quoted(GEOMETRY_COLUMN),
        geometry_type_name(layer.kind),
        if columns.is_empty() { "" } else { ", " },
        columns.join(", ")
    ))?;
    {
        let names: Vec<String> = layer.columns.iter().map(|c| quoted(&c.name)).collect();
        let marks: Vec<String> = (0..=layer.columns.len())
            .map(|i| format!("?{}", i + 2))
            .collect();
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {} (fid, {}{}{}) VALUES (?1, {})",
            quoted(t),
            quoted(GEOMETRY_COLUMN),
            if names.is_empty() { "" } else { ", " },
            names.join(", "),
            marks.join(", ")
        ))?;
        let mut rtree = Vec::with_capacity(layer.rows.len());
        for (n, (shape, cells)) in layer.rows.iter().enumerate() {
            let fid = i64::try_from(n + 1).unwrap_or(i64::MAX);
            let bbox = shape.bbox();
            let mut values = vec![Sql::Integer(fid), Sql::Blob(geometry_blob(shape, bbox)?)];
            values.extend(cells.iter().map(|c| match c {
                None => Sql::Null,
                Some(Cell::Text(s)) => Sql::Text(s.clone()),
                Some(Cell::Int(i)) => Sql::Integer(*i),
                Some(Cell::Real(x)) => Sql::Real(*x),
                Some(Cell::Bool(b)) => Sql::Integer(i64::from(*b)),
            }));
            insert.execute(params_from_iter(values))?;
            rtree.push((fid, bbox));
        }
        let rt = format!("rtree_{t}_{GEOMETRY_COLUMN}");
        tx.execute_batch(&format!(
            "CREATE VIRTUAL TABLE {} USING rtree(id, minx, maxx, miny, maxy);",
            quoted(&rt)
        ))?;
        let mut index = tx.prepare(&format!(
            "INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5)",
            quoted(&rt)
        ))?;
        for (fid, b) in rtree {
            index.execute(params![fid, b[0], b[2], b[1], b[3]])?;
        }
    }
    tx.execute_batch(&rtree_triggers(t, GEOMETRY_COLUMN, "fid"))?;
    let ext = "INSERT INTO gpkg_extensions VALUES (?1, ?2, ?3, ?4, ?5)";
    tx.execute(
        ext,
        params![
            t,
            GEOMETRY_COLUMN,
            "gpkg_rtree_index",
            "http://www.geopackage.org/spec120/#extension_rtree",
            "write-only"
        ],
    )?;
    for table in ["gpkg_data_columns", "gpkg_data_column_constraints"] {
        tx.execute(
            ext,
            params![
                table,
                Sql::Null,
                "gpkg_schema",
                "http://www.geopackage.org/spec121/#extension_schema",
                "read-write"
            ],
        )?;
    }
    for c in &layer.columns {
        if let Some(d) = &c.description {
            tx.execute(
                "INSERT INTO gpkg_data_columns (table_name, column_name, name, description) VALUES (?1, ?2, ?2, ?3)",
                params![t, c.name, d],
            )?;
        }
    }
    tx.commit()?;
    let bytes = db.serialize(MAIN_DB)?;
    Ok(bytes.to_vec())
}
