//! Open-data downloads: the published data as files (the LA polygons with every attribute as
//! GeoJSON, GeoPackage and FlatGeobuf, the partnerships with their LAs and sources as CSV and JSON), built once per data
//! version with their gzip and ETag, and the JSON form of a partnership that the API shares.
//! `http::downloads` serves them.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::dataset::Dataset;
use crate::gis_formats;
use crate::model::Partnership;

/// Licence statement shipped with every download.
pub const LICENCE: &str = "Boundaries and codes: Office for National Statistics, Open Government Licence v3.0 (https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/); Contains OS data © Crown copyright and database right 2023. LA figures: DfE, ONS, DWP, Open Government Licence v3.0. Columns rural_urban and rural_pop_pct: mySociety, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Partnership and LA-role data: compiled by partnership-map from the public sources cited in each row.";

/// The Open Government Licence v3.0, linked from every download.
pub const OGL: &str = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/";

/// One generated file.
#[derive(Debug, Clone)]
pub struct File {
    /// Base name without version, e.g. `partnerships` + extension.
    pub stem: &'static str,
    /// Extension.
    pub ext: &'static str,
    /// MIME type.
    pub mime: &'static str,
    /// What it is.
    pub title: &'static str,
    /// Content.
    pub bytes: Bytes,
    /// The same, gzipped once per data version (sent when the client accepts gzip).
    pub gzip: Bytes,
    /// Weak ETag of `bytes` (one tag for both encodings).
    pub etag: String,
}

impl File {
    /// A download with its gzip and ETag computed once.
    fn new(
        stem: &'static str,
        ext: &'static str,
        mime: &'static str,
        title: &'static str,
        bytes: Bytes,
    ) -> Self {
        Self {
            stem,
            ext,
            mime,
            title,
            gzip: Bytes::from(crate::cache::gzip(&bytes)),
            etag: crate::cache::weak_etag(&bytes),
            bytes,
        }
    }
}

/// The files built for one data version.
type Versioned = (String, Arc<Vec<File>>);

/// The files of one data version, built once per version.
#[derive(Clone, Default)]
pub struct DownloadCache {
    inner: Arc<Mutex<Option<Versioned>>>,
}

impl DownloadCache {
    /// The files for `ds`, building them on first use of its version.
    pub fn files(&self, ds: &Dataset) -> Arc<Vec<File>> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((v, files)) = guard.as_ref()
            && *v == ds.version
        {
            return files.clone();
        }
        let files = Arc::new(build(ds));
        *guard = Some((ds.version.clone(), files.clone()));
        files
    }
}

/// The name of `f` in data version `version`: `partnerships-<version>.csv`.
#[must_use]
pub fn versioned(f: &File, version: &str) -> String {
    format!("{}-{version}.{}", f.stem, f.ext)
}

/// Build every download from the dataset (pure).
#[must_use]
pub fn build(ds: &Dataset) -> Vec<File> {
    let features: Vec<serde_json::Value> = (0..ds.las.len())
        .map(|i| {
            let props: serde_json::Map<String, serde_json::Value> = ds.attributes[i]
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            json!({
                "type": "Feature",
                "id": ds.las[i].code,
                "geometry": {"type": "MultiPolygon", "coordinates": ds.geometry.lonlat[i]},
                "properties": props,
            })
        })
        .collect();
    let gis = gis_files(ds, &features);
    let geojson = json!({
        "type": "FeatureCollection",
        "name": "local_authorities",
        "licence": LICENCE,
        "data_version": ds.version,
        "data_as_of": ds.data_as_of,
        "fields": "see docs/FIELDS.md or /tiles.json",
        "features": features,
    });
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "name",
        "la_codes",
        "la_names",
        "form",
        "phases",
        "focus",
        "la_involvement",
        "legal_form",
        "membership",
        "founded",
        "website",
        "source_urls",
        "evidence_date",
        "notes",
    ];
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    let mut items = Vec::new();
    for p in &ds.partnerships {
        let la_names = ds.la_names(&p.la_codes);
        let _ = w.write_record([
            p.id.clone(),
            p.name.clone(),
            p.la_codes.join(";"),
            la_names.join(";"),
            p.form.clone(),
            p.phases.join(";"),
            p.focus.join(";"),
            p.la_involvement.clone(),
            p.legal_form.clone(),
            p.membership.clone(),
            p.founded.map(|y| y.to_string()).unwrap_or_default(),
            p.website.clone().unwrap_or_default(),
            p.source_urls.join(";"),
            p.evidence_date.clone(),
            p.notes.clone(),
        ]);
        items.push(partnership_json(ds, p));
    }
    let csv_bytes = w.into_inner().unwrap_or_default();
    let json_doc = json!({ "licence": LICENCE, "data_version": ds.version, "data_as_of": ds.data_as_of, "partnerships": items });
    let mut files = vec![
        File::new(
            "local_authorities",
            "geojson",
            "application/geo+json",
            "LA polygons (full resolution, WGS84) with every attribute",
            Bytes::from(geojson.to_string()),
        ),
        File::new(
            "partnerships",
            "csv",
            "text/csv; charset=utf-8",
            "Partnerships with their LAs and sources (CSV, ; inside cells)",
            Bytes::from(csv_bytes),
        ),
        File::new(
            "partnerships",
            "json",
            "application/json",
            "Partnerships with their LAs and sources (JSON)",
            Bytes::from(json_doc.to_string()),
        ),
    ];
    files.splice(1..1, gis);
    files
}

/// What a GIS layer says about itself: its name and title, what it is with the data version,
/// date and licence, the same as metadata JSON, and its geometry type.
fn layer_about(
    ds: &Dataset,
    name: &str,
    title: &str,
    what: &str,
    geometry: gis_formats::GeometryKind,
) -> gis_formats::About {
    let as_of = ds.data_as_of.as_deref().unwrap_or("unknown");
    gis_formats::About {
        name: name.to_owned(),
        title: title.to_owned(),
        description: format!(
            "{what} Data version {}, data as of {as_of}. {LICENCE}",
            ds.version
        ),
        metadata: json!({
            "licence": LICENCE,
            "data_version": ds.version,
            "data_as_of": ds.data_as_of,
        }),
        last_change: ds.data_as_of.clone(),
        geometry,
    }
}

/// The LA polygons as a GIS layer (the downloads and OGC items as GeoPackage or FlatGeobuf).
#[must_use]
pub fn la_layer_about(ds: &Dataset) -> gis_formats::About {
    layer_about(
        ds,
        "local_authorities",
        "Local authorities",
        "England's upper-tier local authorities with their area-based education partnerships and context figures (fields: docs/FIELDS.md).",
        gis_formats::GeometryKind::MultiPolygon,
    )
}

/// The partnerships as a GIS layer (OGC items as GeoPackage or FlatGeobuf): each partnership
/// at the label points of its LAs.
#[must_use]
pub fn partnerships_layer_about(ds: &Dataset) -> gis_formats::About {
    layer_about(
        ds,
        "partnerships",
        "Partnerships",
        "Area-based education partnerships, located at the label points of the LAs they cover, with their sources.",
        gis_formats::GeometryKind::MultiPoint,
    )
}

/// The LA polygons as GeoPackage and FlatGeobuf, from the GeoJSON download's own `features`
/// (so the same features and attributes). A failure is a bug: it is logged and the GIS files
/// left out, rather than failing the other downloads.
fn gis_files(ds: &Dataset, features: &[Value]) -> Vec<File> {
    let built = gis_formats::Layer::new(la_layer_about(ds), features, &gis_formats::la_columns())
        .and_then(|layer| {
            gis_formats::Format::ALL
                .into_iter()
                .map(|format| Ok((format, format.write(&layer)?)))
                .collect::<Result<Vec<_>, gis_formats::GisError>>()
        });
    match built {
        Ok(files) => files
            .into_iter()
            .map(|(format, bytes)| {
                let title = match format {
                    gis_formats::Format::GeoPackage => {
                        "LA polygons as a GeoPackage (QGIS, ArcGIS, GDAL), with the GeoJSON's attributes"
                    }
                    gis_formats::Format::FlatGeobuf => {
                        "LA polygons as FlatGeobuf with a spatial index (web GIS reads a bbox with range requests)"
                    }
                };
                File::new("local_authorities", format.ext(), format.mime(), title, Bytes::from(bytes))
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "the GeoPackage and FlatGeobuf downloads could not be built");
            Vec::new()
        }
    }
}

/// Every name `/downloads/{name}` answers: the versioned files and their plain names.
#[must_use]
pub fn names(files: &[File], version: &str) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| [versioned(f, version), format!("{}.{}", f.stem, f.ext)])
        .collect()
}

/// A partnership as the API and the downloads publish it.
#[must_use]
pub fn partnership_json(ds: &Dataset, p: &Partnership) -> Value {
    let la_names = ds.la_names(&p.la_codes);
    json!({
        "id": p.id,
        "name": p.name,
        "la_codes": p.la_codes,
        "la_names": la_names,
        "form": p.form,
        "phases": p.phases,
        "focus": p.focus,
        "la_involvement": p.la_involvement,
        "legal_form": p.legal_form,
        "membership": p.membership,
        "founded": p.founded,
        "website": p.website,
        "source_urls": p.source_urls,
        "evidence_date": p.evidence_date,
        "notes": p.notes,
    })
}
