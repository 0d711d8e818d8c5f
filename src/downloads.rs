//! Open-data downloads: the published data as files (the LA polygons with every attribute as
//! GeoJSON, GeoPackage and FlatGeobuf, the partnerships with their LAs and sources as CSV and
//! JSON), built once per data version with their gzip and ETag and kept in a cache bounded in
//! bytes, and the JSON form of a partnership that the API shares. `http::downloads` serves them.
//!
//! The text files are built as soon as a version is published; the GIS files (13 MB with their
//! gzip) only when first asked for, so a server nobody downloads GeoPackages from does not hold
//! them.

use std::sync::Arc;

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

impl File {
    /// Bytes it holds (plain and gzipped).
    #[must_use]
    pub fn size(&self) -> usize {
        self.bytes.len() + self.gzip.len()
    }
}

/// Bytes the download cache holds at most: the current version's files (about 7 MB of text
/// files, 13 MB of GIS files, each with its gzip) and those of a few dated requests.
pub const CACHE_BYTES: u64 = 64 << 20;

/// Which files of a data version a cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    /// GeoJSON, CSV, JSON: [`build`].
    Text,
    /// GeoPackage, FlatGeobuf: [`build_gis`].
    Gis,
}

/// The files of data versions, each built once (concurrent requests wait for one build), the
/// least recently used evicted past [`CACHE_BYTES`].
#[derive(Clone)]
pub struct DownloadCache {
    inner: moka::sync::Cache<(String, Part), Arc<Vec<File>>>,
}

impl Default for DownloadCache {
    fn default() -> Self {
        Self::new(CACHE_BYTES)
    }
}

impl DownloadCache {
    /// A cache holding at most `max_bytes` of files.
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let inner = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .weigher(|_, files: &Arc<Vec<File>>| {
                u32::try_from(files.iter().map(File::size).sum::<usize>()).unwrap_or(u32::MAX)
            })
            .build();
        Self { inner }
    }

    /// The text files (GeoJSON, CSV, JSON) of `ds`, built on first use of its version.
    pub fn files(&self, ds: &Dataset) -> Arc<Vec<File>> {
        self.inner
            .get_with((ds.version.clone(), Part::Text), || Arc::new(build(ds)))
    }

    /// The GIS files (GeoPackage, FlatGeobuf) of `ds`, built on first use of its version.
    pub fn gis_files(&self, ds: &Dataset) -> Arc<Vec<File>> {
        self.inner
            .get_with((ds.version.clone(), Part::Gis), || Arc::new(build_gis(ds)))
    }

    /// Bytes of files held now.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.weighted_size()
    }

    /// Every file of `ds`, in the order the downloads page lists them.
    pub fn all(&self, ds: &Dataset) -> Vec<File> {
        let mut all: Vec<File> = self.files(ds).iter().cloned().collect();
        let at = all
            .iter()
            .position(|f| f.ext == "geojson")
            .map_or(0, |i| i + 1);
        all.splice(at..at, self.gis_files(ds).iter().cloned());
        all
    }
}

/// The name of `f` in data version `version`: `partnerships-<version>.csv`.
#[must_use]
pub fn versioned(f: &File, version: &str) -> String {
    format!("{}-{version}.{}", f.stem, f.ext)
}

/// The LAs as GeoJSON features, every attribute a property: the GeoJSON download's features,
/// and what the GIS files are written from.
fn la_features(ds: &Dataset) -> Vec<Value> {
    (0..ds.las.len())
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
        .collect()
}

/// Build the text downloads from the dataset (pure): GeoJSON, CSV, JSON.
#[must_use]
pub fn build(ds: &Dataset) -> Vec<File> {
    let features = la_features(ds);
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
    vec![
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
    ]
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

/// The LA polygons as GeoPackage and FlatGeobuf (pure), from the GeoJSON download's features
/// (so the same features and attributes). A failure is a bug: it is logged and the GIS files
/// left out, rather than failing the other downloads.
#[must_use]
pub fn build_gis(ds: &Dataset) -> Vec<File> {
    let features = la_features(ds);
    let built = gis_formats::Layer::new(la_layer_about(ds), &features, &gis_formats::la_columns())
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
                File::new(GIS_STEM, format.ext(), format.mime(), title, Bytes::from(bytes))
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "the GeoPackage and FlatGeobuf downloads could not be built");
            Vec::new()
        }
    }
}

/// Every name `/downloads/{name}` answers: the versioned files (the text `files` and the GIS
/// files, known without building them) and their plain names.
#[must_use]
pub fn names(files: &[File], version: &str) -> Vec<String> {
    let stems = files
        .iter()
        .map(|f| (f.stem, f.ext))
        .chain(gis_formats::Format::ALL.map(|f| (GIS_STEM, f.ext())));
    stems
        .flat_map(|(stem, ext)| [format!("{stem}-{version}.{ext}"), format!("{stem}.{ext}")])
        .collect()
}

/// The stem of the GIS files' names.
pub const GIS_STEM: &str = "local_authorities";

/// Whether `name` can only be a GIS file (so answering it needs [`DownloadCache::gis_files`]).
#[must_use]
pub fn is_gis_name(name: &str) -> bool {
    name.starts_with(GIS_STEM)
        && gis_formats::Format::ALL
            .iter()
            .any(|f| name.strip_suffix(f.ext()).is_some_and(|n| n.ends_with('.')))
}

/// A partnership as the API and the downloads publish it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PartnershipJson {
    /// Stable id (slug).
    pub id: String,
    /// Name.
    pub name: String,
    /// GSS codes of its LAs.
    pub la_codes: Vec<String>,
    /// Names of its LAs, in the same order.
    pub la_names: Vec<String>,
    /// Form (`schema::FORMS`).
    pub form: String,
    /// Phases.
    pub phases: Vec<String>,
    /// Focus tags.
    pub focus: Vec<String>,
    /// The LA's involvement.
    pub la_involvement: String,
    /// Legal form.
    pub legal_form: String,
    /// Who is a member.
    pub membership: String,
    /// Year founded.
    pub founded: Option<u16>,
    /// Website.
    pub website: Option<String>,
    /// Sources read.
    pub source_urls: Vec<String>,
    /// Year or date of the evidence.
    pub evidence_date: String,
    /// Notes.
    pub notes: String,
}

/// A partnership as the API and the downloads publish it.
#[must_use]
pub fn partnership_json(ds: &Dataset, p: &Partnership) -> PartnershipJson {
    PartnershipJson {
        id: p.id.clone(),
        name: p.name.clone(),
        la_codes: p.la_codes.clone(),
        la_names: ds
            .la_names(&p.la_codes)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        form: p.form.clone(),
        phases: p.phases.clone(),
        focus: p.focus.clone(),
        la_involvement: p.la_involvement.clone(),
        legal_form: p.legal_form.clone(),
        membership: p.membership.clone(),
        founded: p.founded,
        website: p.website.clone(),
        source_urls: p.source_urls.clone(),
        evidence_date: p.evidence_date.clone(),
        notes: p.notes.clone(),
    }
}
