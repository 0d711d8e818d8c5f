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
                Feature {
                    id: f.id,
                    geom_type: f.r#type.unwrap_or(0),
                    props,
                    rings: geometry(&f.geometry),
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

fn geometry(cmds: &[u32]) -> Vec<Vec<[i64; 2]>> {
    let mut rings: Vec<Vec<[i64; 2]>> = Vec::new();
    let (mut x, mut y) = (0i64, 0i64);
    let mut i = 0;
    while i < cmds.len() {
        let id = cmds[i] & 7;
        let count = (cmds[i] >> 3) as usize;
        i += 1;
        match id {
            1 => {
                for _ in 0..count {
                    x += zigzag(cmds[i]);
                    y += zigzag(cmds[i + 1]);
                    i += 2;
                    rings.push(vec![[x, y]]);
                }
            }
            2 => {
                let ring = rings.last_mut().expect("LineTo after MoveTo");
                for _ in 0..count {
                    x += zigzag(cmds[i]);
                    y += zigzag(cmds[i + 1]);
                    i += 2;
                    ring.push([x, y]);
                }
            }
            7 => {}
            other => panic!("unknown command {other}"),
        }
    }
    rings
}

/// Twice the signed area of an open ring (MVT: positive = exterior).
pub fn area2(ring: &[[i64; 2]]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1])
        .sum()
}
