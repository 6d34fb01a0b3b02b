//! OpenCV Haar cascades: read from their XML model files and evaluated on a window.
//!
//! The model format is OpenCV's `opencv_storage` document written by `opencv_traincascade`
//! (the "new" format, `type_id="opencv-cascade-classifier"`):
//!
//! * `stageType` BOOST and `featureType` HAAR (LBP and HOG cascades are refused);
//! * `width` × `height`, the detection window the features are defined on (24 × 24 for the
//!   frontal face cascades, 20 × 20 for the eye cascade);
//! * `stages`: each with a `stageThreshold` and `weakClassifiers`, each weak classifier a
//!   small decision tree: `internalNodes` in groups of four numbers (left, right,
//!   feature index, threshold) and `leafValues`. A child index above 0 is another node of the
//!   same tree; 0 or below is the leaf `−index`;
//! * `features`: each with up to three `rects` "x y w h weight" and a `tilted` flag
//!   (rectangles rotated by 45°, read from the tilted integral).
//!
//! Evaluating a window (Viola and Jones 2001; OpenCV's `HaarEvaluator`): every feature value
//! is the weighted sum of its rectangles divided by `σ·A`, where A is the area of the window
//! shrunk by one pixel on each side and σ the standard deviation of the pixels there
//! (`√(A·Σx² − (Σx)²)`, or 1 when that is 0). A node goes to `left` when the value is below
//! its threshold, else to `right`; a stage adds up the leaf values of its trees and rejects
//! the window when the sum is below the stage threshold (lowered by 10⁻⁵, as OpenCV does, so
//! rounding never rejects a window at the trained boundary). A window is an object when it
//! passes every stage.

use std::path::Path;

use roxmltree::Node as XmlNode;

use crate::error::{FaceError, Result};
use crate::integral::Integral;

/// OpenCV lowers every stage threshold by this much when it reads a cascade.
const STAGE_THRESHOLD_EPS: f32 = 1e-5;

#[derive(Debug, Clone, Copy)]
struct Stage {
    threshold: f32,
    first: usize,
    count: usize,
}

#[derive(Debug, Clone, Copy)]
struct Weak {
    node: usize,
    leaf: usize,
}

#[derive(Debug, Clone, Copy)]
struct TreeNode {
    left: i32,
    right: i32,
    feature: usize,
    threshold: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct FeatureRect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
    weight: f32,
}

#[derive(Debug, Clone, PartialEq)]
struct Feature {
    rects: Vec<FeatureRect>,
    tilted: bool,
}

/// A Haar cascade classifier read from an OpenCV model file.
#[derive(Debug, Clone)]
pub struct Cascade {
    width: u32,
    height: u32,
    stages: Vec<Stage>,
    weak: Vec<Weak>,
    nodes: Vec<TreeNode>,
    leaves: Vec<f32>,
    features: Vec<Feature>,
    has_tilted: bool,
}

fn model_err(source: &str, reason: impl Into<String>) -> FaceError {
    FaceError::Model {
        source_name: source.to_string(),
        reason: reason.into(),
    }
}

fn child<'a, 'i>(node: XmlNode<'a, 'i>, name: &str) -> Option<XmlNode<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn items<'a, 'i>(node: XmlNode<'a, 'i>) -> impl Iterator<Item = XmlNode<'a, 'i>> {
    node.children()
        .filter(|c| c.is_element() && c.tag_name().name() == "_")
}

fn text<'a>(node: XmlNode<'a, '_>) -> &'a str {
    node.text().unwrap_or("").trim()
}

fn numbers<T: std::str::FromStr>(s: &str, src: &str, what: &str) -> Result<Vec<T>> {
    s.split_ascii_whitespace()
        .map(|t| {
            t.parse::<T>()
                .map_err(|_| model_err(src, format!("{what}: `{t}` is not a number")))
        })
        .collect()
}

fn scalar<T: std::str::FromStr>(parent: XmlNode<'_, '_>, name: &str, src: &str) -> Result<T> {
    let node = child(parent, name).ok_or_else(|| model_err(src, format!("no <{name}>")))?;
    text(node)
        .parse::<T>()
        .map_err(|_| model_err(src, format!("<{name}> `{}` is not a number", text(node))))
}

impl Cascade {
    /// Reads a cascade from an OpenCV model file.
    ///
    /// # Errors
    /// [`FaceError::ModelIo`] when the file cannot be read, [`FaceError::Model`] when it is
    /// not a BOOST/HAAR cascade in OpenCV's XML format.
    pub fn load(path: &Path) -> Result<Self> {
        let xml = std::fs::read_to_string(path).map_err(|source| FaceError::ModelIo {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&xml, &path.display().to_string())
    }

    /// Reads a cascade from the text of an OpenCV model file.
    ///
    /// # Errors
    /// [`FaceError::Model`] when it is not a BOOST/HAAR cascade in OpenCV's XML format.
    pub fn from_xml(xml: &str) -> Result<Self> {
        Self::parse(xml, "<memory>")
    }

    fn parse(xml: &str, src: &str) -> Result<Self> {
        let doc =
            roxmltree::Document::parse(xml).map_err(|e| model_err(src, format!("not XML: {e}")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "opencv_storage" {
            return Err(model_err(src, "the root element is not <opencv_storage>"));
        }
        let cascade = root
            .children()
            .find(|c| c.is_element())
            .ok_or_else(|| model_err(src, "<opencv_storage> is empty"))?;
        match cascade.attribute("type_id") {
            Some("opencv-cascade-classifier") => {}
            Some("opencv-haar-classifier") => {
                return Err(model_err(
                    src,
                    "the old haar-classifier format; use a cascade in the \
                     opencv-cascade-classifier format (OpenCV 2.4 and later ship them)",
                ));
            }
            other => {
                return Err(model_err(
                    src,
                    format!("type_id {other:?} is not opencv-cascade-classifier"),
                ));
            }
        }
        let stage_type = child(cascade, "stageType").map(text).unwrap_or("");
        if stage_type != "BOOST" {
            return Err(model_err(
                src,
                format!("stage type `{stage_type}`; only BOOST"),
            ));
        }
        let feature_type = child(cascade, "featureType").map(text).unwrap_or("");
        if feature_type != "HAAR" {
            return Err(model_err(
                src,
                format!("feature type `{feature_type}`; only HAAR"),
            ));
        }
        let width: u32 = scalar(cascade, "width", src)?;
        let height: u32 = scalar(cascade, "height", src)?;
        if !(3..=1024).contains(&width) || !(3..=1024).contains(&height) {
            return Err(model_err(src, format!("window {width}x{height}")));
        }

        let mut features = Vec::new();
        let fnode = child(cascade, "features").ok_or_else(|| model_err(src, "no <features>"))?;
        for (i, f) in items(fnode).enumerate() {
            let rects_node = child(f, "rects")
                .ok_or_else(|| model_err(src, format!("feature {i} has no <rects>")))?;
            let tilted = match child(f, "tilted").map(text) {
                None | Some("0") => false,
                Some("1") => true,
                Some(other) => {
                    return Err(model_err(src, format!("feature {i}: tilted `{other}`")));
                }
            };
            let mut rects = Vec::new();
            for r in items(rects_node) {
                let v: Vec<f32> = numbers(text(r), src, "a feature rectangle")?;
                let [x, y, w, h, weight] = v[..] else {
                    return Err(model_err(
                        src,
                        format!("feature {i}: a rectangle has {} numbers, not 5", v.len()),
                    ));
                };
                let rect = FeatureRect {
                    x: x as i32,
                    y: y as i32,
                    w: w as i32,
                    h: h as i32,
                    weight,
                };
                let (ww, wh) = (width as i32, height as i32);
                let inside = if tilted {
                    rect.x - rect.h >= 0
                        && rect.x + rect.w <= ww
                        && rect.y >= 0
                        && rect.y + rect.w + rect.h <= wh
                } else {
                    rect.x >= 0 && rect.y >= 0 && rect.x + rect.w <= ww && rect.y + rect.h <= wh
                };
                if !inside || rect.w < 0 || rect.h < 0 {
                    return Err(model_err(
                        src,
                        format!("feature {i}: a rectangle leaves the {width}x{height} window"),
                    ));
                }
                rects.push(rect);
            }
            if rects.is_empty() || rects.len() > 3 {
                return Err(model_err(
                    src,
                    format!("feature {i} has {} rectangles (1 to 3)", rects.len()),
                ));
            }
            features.push(Feature { rects, tilted });
        }

        let mut stages = Vec::new();
        let mut weak = Vec::new();
        let mut nodes = Vec::new();
        let mut leaves = Vec::new();
        let snode = child(cascade, "stages").ok_or_else(|| model_err(src, "no <stages>"))?;
        for (si, s) in items(snode).enumerate() {
            let threshold: f32 = scalar(s, "stageThreshold", src)?;
            let wnode = child(s, "weakClassifiers")
                .ok_or_else(|| model_err(src, format!("stage {si} has no <weakClassifiers>")))?;
            let first = weak.len();
            for w in items(wnode) {
                let internal = child(w, "internalNodes")
                    .ok_or_else(|| model_err(src, format!("stage {si}: no <internalNodes>")))?;
                let leaf_node = child(w, "leafValues")
                    .ok_or_else(|| model_err(src, format!("stage {si}: no <leafValues>")))?;
                let raw: Vec<f64> = numbers(text(internal), src, "internalNodes")?;
                let leaf: Vec<f32> = numbers(text(leaf_node), src, "leafValues")?;
                if raw.is_empty() || raw.len() % 4 != 0 {
                    return Err(model_err(
                        src,
                        format!("stage {si}: internalNodes of {} numbers", raw.len()),
                    ));
                }
                let n_nodes = raw.len() / 4;
                for q in raw.chunks_exact(4) {
                    let (left, right) = (q[0] as i32, q[1] as i32);
                    let feature = q[2] as i64;
                    for child_idx in [left, right] {
                        let ok = if child_idx > 0 {
                            (child_idx as usize) < n_nodes
                        } else {
                            (child_idx.unsigned_abs() as usize) < leaf.len()
                        };
                        if !ok {
                            return Err(model_err(
                                src,
                                format!("stage {si}: a tree refers to a missing node or leaf"),
                            ));
                        }
                    }
                    if feature < 0 || feature as usize >= features.len() {
                        return Err(model_err(
                            src,
                            format!("stage {si}: feature {feature} does not exist"),
                        ));
                    }
                    nodes.push(TreeNode {
                        left,
                        right,
                        feature: feature as usize,
                        threshold: q[3] as f32,
                    });
                }
                weak.push(Weak {
                    node: nodes.len() - n_nodes,
                    leaf: leaves.len(),
                });
                leaves.extend_from_slice(&leaf);
            }
            if weak.len() == first {
                return Err(model_err(src, format!("stage {si} has no weak classifier")));
            }
            stages.push(Stage {
                threshold: threshold - STAGE_THRESHOLD_EPS,
                first,
                count: weak.len() - first,
            });
        }
        if stages.is_empty() {
            return Err(model_err(src, "no stage"));
        }
        let has_tilted = features.iter().any(|f| f.tilted);
        Ok(Self {
            width,
            height,
            stages,
            weak,
            nodes,
            leaves,
            features,
            has_tilted,
        })
    }

    /// The detection window (width, height) the cascade was trained on.
    pub fn window(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Number of stages.
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    /// Number of features.
    pub fn feature_count(&self) -> usize {
        self.features.len()
    }

    /// True when some feature is a tilted (45°) one.
    pub fn has_tilted_features(&self) -> bool {
        self.has_tilted
    }

    /// The cascade with feature offsets resolved for integral images of row stride `stride`.
    pub(crate) fn prepare(&self, stride: usize) -> Prepared {
        let s = stride as i64;
        let node_of = |n: &TreeNode| {
            let f = &self.features[n.feature];
            let mut p = PNode {
                ofs: [0; 12],
                weight: [0.0; 3],
                threshold: n.threshold,
                left: n.left,
                right: n.right,
                tilted: f.tilted,
            };
            for (k, r) in f.rects.iter().enumerate() {
                let (x, y, w, h) = (
                    i64::from(r.x),
                    i64::from(r.y),
                    i64::from(r.w),
                    i64::from(r.h),
                );
                let at = |xx: i64, yy: i64| (yy * s + xx) as u32;
                let o = if f.tilted {
                    [
                        at(x, y),
                        at(x - h, y + h),
                        at(x + w, y + w),
                        at(x + w - h, y + w + h),
                    ]
                } else {
                    [at(x, y), at(x + w, y), at(x, y + h), at(x + w, y + h)]
                };
                p.ofs[4 * k..4 * k + 4].copy_from_slice(&o);
                p.weight[k] = r.weight;
            }
            p
        };
        let stumps = self
            .weak
            .iter()
            .all(|w| self.nodes[w.node].left <= 0 && self.nodes[w.node].right <= 0);
        let stump_list = if stumps {
            self.weak
                .iter()
                .map(|w| {
                    let n = &self.nodes[w.node];
                    Stump {
                        node: node_of(n),
                        below: self.leaves[w.leaf + n.left.unsigned_abs() as usize],
                        above: self.leaves[w.leaf + n.right.unsigned_abs() as usize],
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let (w, h) = (self.width as usize, self.height as usize);
        Prepared {
            stages: self.stages.clone(),
            weak: self.weak.clone(),
            nodes: self.nodes.iter().map(node_of).collect(),
            leaves: self.leaves.clone(),
            stumps: stump_list,
            norm: [
                stride + 1,
                stride + w - 1,
                (h - 1) * stride + 1,
                (h - 1) * stride + w - 1,
            ],
            norm_area: ((w - 2) * (h - 2)) as f64,
            stride,
        }
    }
}

/// A tree node with its feature's rectangles resolved to offsets from the window's origin
/// in the integral image: rectangle k's corners at `ofs[4k..4k + 4]` (sum = o0 − o1 − o2 +
/// o3), unused rectangles with weight 0.
#[derive(Debug, Clone, Copy)]
struct PNode {
    ofs: [u32; 12],
    weight: [f32; 3],
    threshold: f32,
    left: i32,
    right: i32,
    tilted: bool,
}

impl PNode {
    /// The feature's weighted rectangle sum (not yet normalised) for the window at `base`.
    #[inline(always)]
    fn raw(&self, sum: &[u32], tilted: &[u32], base: usize) -> f32 {
        let t = if self.tilted { tilted } else { sum };
        let o = &self.ofs;
        let rect = |k: usize| {
            t[base + o[k] as usize]
                .wrapping_sub(t[base + o[k + 1] as usize])
                .wrapping_sub(t[base + o[k + 2] as usize])
                .wrapping_add(t[base + o[k + 3] as usize]) as i32 as f32
        };
        let mut v = self.weight[0] * rect(0) + self.weight[1] * rect(4);
        if self.weight[2] != 0.0 {
            v += self.weight[2] * rect(8);
        }
        v
    }
}

/// A one-node weak classifier with its two leaves.
#[derive(Debug, Clone, Copy)]
struct Stump {
    node: PNode,
    below: f32,
    above: f32,
}

/// A cascade ready to run on integral images of one row stride.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    stages: Vec<Stage>,
    weak: Vec<Weak>,
    nodes: Vec<PNode>,
    leaves: Vec<f32>,
    /// Every weak classifier as a stump, when all are (empty otherwise).
    stumps: Vec<Stump>,
    norm: [usize; 4],
    norm_area: f64,
    stride: usize,
}

impl Prepared {
    /// Runs the cascade on the window whose top-left pixel is (x, y): 1 when every stage
    /// passes, otherwise minus the index of the stage that rejected it (0 for the first).
    /// The window must lie inside the picture.
    #[inline]
    pub fn run_at(&self, ii: &Integral, x: usize, y: usize) -> i32 {
        let base = y * self.stride + x;
        let sum = &ii.sum[..];
        let sq = &ii.sq;
        let tilted = &ii.tilted[..];
        let [a, b, c, d] = self.norm;
        let vsum = sum[base + a]
            .wrapping_sub(sum[base + b])
            .wrapping_sub(sum[base + c])
            .wrapping_add(sum[base + d]);
        let vsq = (sq[base + a] + sq[base + d]).wrapping_sub(sq[base + b] + sq[base + c]);
        let vsum = f64::from(vsum);
        let nf = self.norm_area * vsq as f64 - vsum * vsum;
        let nf = if nf > 0.0 { nf.sqrt() } else { 1.0 } as f32;
        if !self.stumps.is_empty() {
            for (si, stage) in self.stages.iter().enumerate() {
                let mut total = 0.0f32;
                for st in &self.stumps[stage.first..stage.first + stage.count] {
                    let v = st.node.raw(sum, tilted, base);
                    total += if v < st.node.threshold * nf {
                        st.below
                    } else {
                        st.above
                    };
                }
                if total < stage.threshold {
                    return -(si as i32);
                }
            }
            return 1;
        }
        for (si, stage) in self.stages.iter().enumerate() {
            let mut total = 0.0f32;
            for wk in &self.weak[stage.first..stage.first + stage.count] {
                let mut idx: i32 = 0;
                loop {
                    let node = &self.nodes[wk.node + idx as usize];
                    let v = node.raw(sum, tilted, base);
                    idx = if v < node.threshold * nf {
                        node.left
                    } else {
                        node.right
                    };
                    if idx <= 0 {
                        break;
                    }
                }
                total += self.leaves[wk.leaf + idx.unsigned_abs() as usize];
            }
            if total < stage.threshold {
                return -(si as i32);
            }
        }
        1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A two-stage cascade on a 4 × 4 window. Feature 0: right minus left column of the inner
    /// 2 × 2; feature 1: top half minus bottom half of the window. Stage 0: a stump on
    /// feature 0 (threshold 0.1: −1 below, +1 above) and a two-node tree (feature 1 below 0
    /// goes to node 1, else leaf 1 = −5; node 1: feature 0 below 0.9 gives leaf 0 = 0.25, else
    /// leaf 2 = 0.5), stage threshold 1.3. Stage 1: a stump on feature 0 at 0.95.
    pub(crate) const TINY: &str = r#"<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>4</height>
  <width>4</width>
  <stageParams><maxWeakCount>2</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>2</stageNum>
  <stages>
    <_>
      <maxWeakCount>2</maxWeakCount>
      <stageThreshold>1.3</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>
            0 -1 0 0.1</internalNodes>
          <leafValues>
            -1. 1.</leafValues></_>
        <_>
          <internalNodes>
            1 -1 1 0. 0 -2 0 0.9</internalNodes>
          <leafValues>
            0.25 -5. 0.5</leafValues></_></weakClassifiers></_>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>
            0 -1 0 0.95</internalNodes>
          <leafValues>
            -1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_>
      <rects>
        <_>
          1 1 1 2 -1.</_>
        <_>
          2 1 1 2 1.</_></rects></_>
    <_>
      <rects>
        <_>
          0 0 4 2 1.</_>
        <_>
          0 2 4 2 -1.</_></rects>
      <tilted>0</tilted></_></features></cascade>
</opencv_storage>
"#;

    #[test]
    fn reads_the_format() {
        let c = Cascade::from_xml(TINY).unwrap();
        assert_eq!(c.window(), (4, 4));
        assert_eq!(c.stage_count(), 2);
        assert_eq!(c.feature_count(), 2);
        assert_eq!(c.weak.len(), 3);
        assert_eq!(c.nodes.len(), 4);
        assert_eq!(c.leaves, vec![-1.0, 1.0, 0.25, -5.0, 0.5, -1.0, 1.0]);
        assert!((c.stages[0].threshold - (1.3 - 1e-5)).abs() < 1e-6);
        let n = c.nodes[c.weak[1].node];
        assert_eq!((n.left, n.right, n.feature), (1, -1, 1));
        let n1 = c.nodes[c.weak[1].node + 1];
        assert_eq!((n1.left, n1.right, n1.feature), (0, -2, 0));
        assert!(!c.has_tilted_features());
    }

    /// Runs TINY on a 4 × 4 window given as its inner 2 × 2 `[a, b, c, d]` (rows 1 and 2,
    /// columns 1 and 2) and whether row 3 (`bottom`) or row 0 is white.
    fn window(inner: [u8; 4], bottom: bool) -> i32 {
        let c = Cascade::from_xml(TINY).unwrap();
        let p = c.prepare(5);
        let mut px = [0u8; 16];
        px[5] = inner[0];
        px[6] = inner[1];
        px[9] = inner[2];
        px[10] = inner[3];
        let row = if bottom { 12 } else { 0 };
        px[row..row + 4].fill(255);
        let mut ii = Integral::new();
        ii.compute(&px, 4, 4, 5, false);
        p.run_at(&ii, 0, 0)
    }

    #[test]
    fn evaluates_stumps_and_trees_with_variance_normalisation() {
        // a = c = 0, b = d = 100: Σ = 200, Σx² = 20000, √(4·20000 − 200²) = 200; feature 0 =
        // 200 / 200 = 1.0. Bottom row white: feature 1 = (100 − 100 − 4·255) / 200 < 0, so
        // the tree reaches node 1 and leaf 2: 1 + 0.5 ≥ 1.3; stage 1: 1.0 ≥ 0.95. Passes.
        assert_eq!(window([0, 100, 0, 100], true), 1);
        // Twice the contrast, same normalised values: passes too.
        assert_eq!(window([0, 200, 0, 200], true), 1);
        // Top row white: feature 1 > 0, leaf 1 = −5: rejected by stage 0.
        assert_eq!(window([0, 100, 0, 100], false), 0);
        // d = 60: Σ = 160, Σx² = 13600, √(54400 − 25600) = 169.7; feature 0 = 0.943: stage 0
        // passes (≥ 0.9), stage 1 rejects (< 0.95).
        assert_eq!(window([0, 100, 0, 60], true), -1);
        // d = 40: feature 0 = 140 / √(46400 − 19600) = 0.855 < 0.9: leaf 0, 1.25 < 1.3.
        assert_eq!(window([0, 100, 0, 40], true), 0);
        // A flat inner square: σ = 0, the norm is 1, feature 0 = 0 < 0.1: rejected.
        assert_eq!(window([50, 50, 50, 50], true), 0);
    }

    #[test]
    fn refuses_what_it_cannot_evaluate() {
        for (from, to, needle) in [
            ("<stageType>BOOST", "<stageType>GAB", "stage type"),
            ("<featureType>HAAR", "<featureType>LBP", "feature type"),
            ("opencv-cascade-classifier", "opencv-haar-classifier", "old"),
            ("0 -1 0 0.1", "0 -1 7 0.1", "feature 7"),
            ("0 -1 0 0.1", "0 -3 0 0.1", "missing node"),
            ("2 1 1 2 1.", "3 1 2 2 1.", "leaves"),
            (
                "-1. 1.</leafValues></_>\n        <_>",
                "-1. x</leafValues></_>\n        <_>",
                "not a number",
            ),
        ] {
            let xml = TINY.replacen(from, to, 1);
            assert_ne!(xml, TINY, "{from}");
            let err = Cascade::from_xml(&xml).unwrap_err().to_string();
            assert!(err.contains(needle), "{from} -> {to}: {err}");
        }
        assert!(Cascade::from_xml("<a/>").is_err());
        assert!(Cascade::from_xml("not xml").is_err());
        let err = Cascade::load(Path::new("/nonexistent/cascade.xml")).unwrap_err();
        assert!(err.to_string().contains("opencv-data"), "{err}");
    }
}
