//! A small, independent, test-only MVT reader (prost messages + geometry commands by hand).
//!
//! It does not share code with the encoder, so tests check what a client would decode.

use std::collections::BTreeMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbTile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<PbLayer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbLayer {
    #[prost(uint32, optional, tag = "15")]
    pub version: Option<u32>,
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<PbFeature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<PbValue>,
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbFeature {
    #[prost(uint64, optional, tag = "1")]
    pub id: Option<u64>,
    #[prost(uint32, repeated, tag = "2")]
    pub tags: Vec<u32>,
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(uint32, repeated, tag = "4")]
    pub geometry: Vec<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbValue {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

/// A decoded attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Uint(u64),
    Int(i64),
    Double(f64),
    Bool(bool),
}

/// A decoded feature.
#[derive(Debug, Clone)]
pub struct Feature {
    pub id: Option<u64>,
    /// 1 point, 2 line, 3 polygon.
    pub geom_type: i32,
    pub props: BTreeMap<String, Val>,
    /// Polygon rings (open: ClosePath implied) or, for points, one "ring" per point.
    pub rings: Vec<Vec<[i64; 2]>>,
}

impl Feature {
    pub fn str(&self, k: &str) -> &str {
        match self.props.get(k) {
            Some(Val::Str(s)) => s,
            other => panic!("{k} is not a string: {other:?}"),
        }
    }
}

/// A decoded layer.
#[derive(Debug, Clone)]
pub struct Layer {
    pub version: u32,
    pub extent: u32,
    pub features: Vec<Feature>,
}

fn zigzag(v: u32) -> i64 {
    i64::from((v >> 1) as i32 ^ -((v & 1) as i32))
}

/// Decode a whole tile into layers by name.
pub fn decode(bytes: &[u8]) -> BTreeMap<String, Layer> {
    use prost::Message;
    let tile = PbTile::decode(bytes).expect("valid protobuf");
    let mut out = BTreeMap::new();
    for l in tile.layers {
        let name = l.name.clone().expect("layer has a name");
        let features = l
            .features
            .iter()
            .map(|f| {
                assert!(f.tags.len() % 2 == 0, "odd tag count");
                let props = f
                    .tags
                    .chunks(2)
                    .map(|kv| {
                        let k = l.keys[kv[0] as usize].clone();
                        let v = &l.values[kv[1] as usize];
                        let val = if let Some(s) = &v.string_value {
                            Val::Str(s.clone())
                        } else if let Some(x) = v.double_value {
                            Val::Double(x)
                        } else if let Some(x) = v.float_value {
                            Val::Double(f64::from(x))
                        } else if let Some(x) = v.uint_value {
                            Val::Uint(x)
                        } else if let Some(x) = v.int_value.or(v.sint_value) {
                            Val::Int(x)
                        } else if let Some(b) = v.bool_value {
                            Val::Bool(b)
                        } else {
                            panic!("empty value")
                        };
                        (k, val)
                    })
                    .collect();
                let geom_type = f.r#type.unwrap_or(0);
                let rings = geometry(geom_type, &f.geometry).unwrap_or_else(|e| {
                    panic!(
                        "layer {name}, feature {:?}: invalid MVT geometry: {e}",
                        f.id
                    )
                });
                Feature {
                    id: f.id,
                    geom_type,
                    props,
                    rings,
                }
            })
            .collect();
        out.insert(
            name,
            Layer {
                version: l.version.unwrap_or(1),
                extent: l.extent.unwrap_or(4096),
                features,
            },
        );
    }
    out
}

/// Check every feature's geometry against the MVT grammar without panicking: the number of
/// polygon rings, or the first breach with its layer and feature id.
pub fn check_grammar(bytes: &[u8]) -> Result<usize, String> {
    use prost::Message;
    let tile = PbTile::decode(bytes).map_err(|e| format!("protobuf: {e}"))?;
    let mut rings = 0;
    for l in &tile.layers {
        for f in &l.features {
            let ty = f.r#type.unwrap_or(0);
            let g = geometry(ty, &f.geometry).map_err(|e| {
                format!(
                    "layer {:?}, feature {:?}: {e}",
                    l.name.as_deref().unwrap_or(""),
                    f.id
                )
            })?;
            if ty == 3 {
                rings += g.len();
            }
        }
    }
    Ok(rings)
}

/// Decode a geometry command stream, enforcing the MVT 2.1 grammar (spec 4.3.4): a point
/// is one MoveTo with count >= 1; a line is MoveTo(1) LineTo(>=1) per part; a polygon ring is
/// exactly MoveTo(1), LineTo(>=2), ClosePath(1). Lenient readers (MapLibre) silently append a
/// stray LineTo to the previous ring; GDAL stops with "Parsing error". So this one refuses it.
pub fn geometry(geom_type: i32, cmds: &[u32]) -> Result<Vec<Vec<[i64; 2]>>, String> {
    let mut rings: Vec<Vec<[i64; 2]>> = Vec::new();
    let (mut x, mut y) = (0i64, 0i64);
    let mut i = 0;
    // For polygons: 0 = expecting MoveTo, 1 = expecting LineTo, 2 = expecting ClosePath.
    let mut state = 0;
    while i < cmds.len() {
        let id = cmds[i] & 7;
        let count = (cmds[i] >> 3) as usize;
        let at = i;
        i += 1;
        let params = match id {
            1 | 2 => 2 * count,
            7 => 0,
            other => return Err(format!("unknown command {other} at index {at}")),
        };
        if i + params > cmds.len() {
            return Err(format!(
                "command {id} at index {at} wants {params} parameters, {} left",
                cmds.len() - i
            ));
        }
        let mut points = Vec::with_capacity(params / 2);
        for _ in 0..params / 2 {
            x += zigzag(cmds[i]);
            y += zigzag(cmds[i + 1]);
            i += 2;
            points.push([x, y]);
        }
        match (geom_type, id) {
            (1, 1) if count >= 1 && rings.is_empty() => {
                rings.extend(points.into_iter().map(|p| vec![p]))
            }
            (2, 1) if count == 1 => rings.push(points),
            (2, 2) if count >= 1 && rings.last().is_some_and(|r| r.len() == 1) => {
                rings.last_mut().expect("checked").extend(points);
            }
            (3, 1) if count == 1 && state == 0 => {
                rings.push(points);
                state = 1;
            }
            (3, 2) if count >= 2 && state == 1 => {
                rings.last_mut().expect("state 1 has a ring").extend(points);
                state = 2;
            }
            (3, 7) if count == 1 && state == 2 => state = 0,
            _ => {
                return Err(format!(
                    "command {id} with count {count} at index {at} breaks the grammar for \
                     geometry type {geom_type} (ring {}, state {state})",
                    rings.len()
                ));
            }
        }
    }
    if geom_type == 3 && state != 0 {
        return Err(format!(
            "polygon ends inside ring {} (state {state})",
            rings.len()
        ));
    }
    if rings.is_empty() {
        return Err("empty geometry".to_owned());
    }
    Ok(rings)
}

/// Twice the signed area of an open ring (MVT: positive = exterior).
pub fn area2(ring: &[[i64; 2]]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1])
        .sum()
}
