//! The API reference in Markdown (`docs/api.md`), generated from the descriptor set and
//! the comments that protox keeps in its source info.
//!
//! [`markdown`] turns a [`FileDescriptorSet`] into one document: a table of contents, then
//! per file its services (each RPC with its request and response types, linked, and its
//! comment), its messages (a table of fields: name, type linked to its definition, label,
//! comment) and its enums (values, numbers, comments). The output depends only on the
//! descriptors, so it is deterministic. `google.protobuf` files are not documented; their
//! types link to the protobuf reference.
//!
//! `cargo run -p rekam-api --example api-docs` rewrites `docs/api.md`
//! ([`REGENERATE_COMMAND`]); a unit test fails while the committed file differs.

use std::collections::HashMap;
use std::fmt::{self, Write};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::source_code_info::Location;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    FileDescriptorSet, ServiceDescriptorProto,
};

/// The command, run from anywhere in the repository, that regenerates [`DOCS_PATH`].
pub const REGENERATE_COMMAND: &str = "cargo run -p rekam-api --example api-docs";

/// Where the generated reference lives, relative to the repository root.
pub const DOCS_PATH: &str = "docs/api.md";

/// Where the protobuf reference documents the well-known types.
const WELL_KNOWN_TYPES_URL: &str = "https://protobuf.dev/reference/protobuf/google.protobuf/";

// Field numbers of the descriptor messages, as they appear in source-info paths.
const FILE_PACKAGE: i32 = 2;
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
const FILE_SYNTAX: i32 = 12;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;

/// Decodes [`crate::FILE_DESCRIPTOR_SET`], the descriptors of rekam's own API.
pub fn descriptor_set() -> Result<FileDescriptorSet, prost::DecodeError> {
    prost::Message::decode(crate::FILE_DESCRIPTOR_SET)
}

/// Renders the Markdown reference of every file in `fds` except the `google.protobuf`
/// well-known types (files sorted by name, vendored `google.*` files last; declarations
/// in source order).
pub fn markdown(fds: &FileDescriptorSet) -> String {
    let mut files: Vec<&FileDescriptorProto> = fds
        .file
        .iter()
        .filter(|f| f.package() != "google.protobuf")
        .collect();
    files.sort_by_key(|f| (f.package().starts_with("google."), f.name()));
    let doc = Doc::new(fds, files);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = doc.write(&mut out);
    out
}

/// A documented type: where its definition is and how to name it.
struct TypeEntry {
    /// The anchor of its definition (the full name without the leading dot).
    anchor: String,
    /// Its package.
    package: String,
    /// Its name within the package, with the names of enclosing messages (`Outer.Inner`).
    local: String,
}

/// One documented file with its comments indexed by source path.
struct File<'a> {
    proto: &'a FileDescriptorProto,
    comments: HashMap<&'a [i32], &'a Location>,
}

impl File<'_> {
    /// The comment attached to the declaration at `path` (leading, then trailing), cleaned
    /// of the comment markers' space; empty when there is none.
    fn comment(&self, path: &[i32]) -> String {
        let Some(loc) = self.comments.get(path) else {
            return String::new();
        };
        let parts = [loc.leading_comments(), loc.trailing_comments()];
        let cleaned: Vec<String> = parts
            .iter()
            .map(|c| clean_comment(c))
            .filter(|c| !c.is_empty())
            .collect();
        cleaned.join("\n\n")
    }
}

/// A message or enum declared in a file, with its source path and display name.
struct Decl<'a, T> {
    item: &'a T,
    path: Vec<i32>,
    local: String,
}

/// The document being generated.
struct Doc<'a> {
    files: Vec<File<'a>>,
    types: HashMap<String, TypeEntry>,
    map_entries: HashMap<String, &'a DescriptorProto>,
}

impl<'a> Doc<'a> {
    fn new(fds: &'a FileDescriptorSet, documented: Vec<&'a FileDescriptorProto>) -> Self {
        let mut map_entries = HashMap::new();
        for f in &fds.file {
            for m in all_messages(f) {
                if is_map_entry(m.item) {
                    map_entries.insert(full_name(f.package(), &m.local), m.item);
                }
            }
        }
        let mut types = HashMap::new();
        for f in &documented {
            let package = f.package();
            let locals = all_messages(f)
                .into_iter()
                .filter(|m| !is_map_entry(m.item))
                .map(|m| m.local)
                .chain(all_enums(f).into_iter().map(|e| e.local));
            for local in locals {
                let full = full_name(package, &local);
                let entry = TypeEntry {
                    anchor: full.trim_start_matches('.').to_string(),
                    package: package.to_string(),
                    local,
                };
                types.insert(full, entry);
            }
        }
        let files = documented
            .into_iter()
            .map(|proto| {
                let comments = proto
                    .source_code_info
                    .iter()
                    .flat_map(|i| i.location.iter())
                    .map(|l| (l.path.as_slice(), l))
                    .collect();
                File { proto, comments }
            })
            .collect();
        Doc {
            files,
            types,
            map_entries,
        }
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "# rekam API reference")?;
        writeln!(out)?;
        writeln!(
            out,
            "<!-- Generated from proto/ by `{REGENERATE_COMMAND}`: do not edit by hand. -->"
        )?;
        writeln!(out)?;
        let mut packages: Vec<String> = Vec::new();
        for f in &self.files {
            let p = format!("`{}`", f.proto.package());
            if !packages.contains(&p) {
                packages.push(p);
            }
        }
        writeln!(
            out,
            "The gRPC API of `rekamd` (packages {}), generated from the comments of the \
             `.proto` files under `proto/`. Regenerate it with `{REGENERATE_COMMAND}`.",
            packages.join(", ")
        )?;
        writeln!(out)?;
        self.write_contents(out)?;
        for file in &self.files {
            self.write_file(out, file)?;
        }
        Ok(())
    }

    fn write_contents(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "## Contents")?;
        writeln!(out)?;
        for file in &self.files {
            let f = file.proto;
            write!(out, "- [{}](#{})", f.name(), f.name())?;
            let summary = first_paragraph(&file_comment(file));
            if !summary.is_empty() {
                write!(out, ": {}", inline(&summary))?;
            }
            writeln!(out)?;
            let services: Vec<String> = f.service.iter().map(|s| s.name().to_string()).collect();
            let messages: Vec<String> = all_messages(f)
                .into_iter()
                .filter(|m| !is_map_entry(m.item))
                .map(|m| m.local)
                .collect();
            let enums: Vec<String> = all_enums(f).into_iter().map(|e| e.local).collect();
            for (title, names) in [
                ("Services", services),
                ("Messages", messages),
                ("Enums", enums),
            ] {
                if names.is_empty() {
                    continue;
                }
                let links: Vec<String> = names
                    .iter()
                    .map(|n| format!("[{n}](#{})", anchor(f.package(), n)))
                    .collect();
                writeln!(out, "  - {title}: {}", links.join(", "))?;
            }
        }
        writeln!(out)
    }

    fn write_file(&self, out: &mut String, file: &File<'_>) -> fmt::Result {
        let f = file.proto;
        writeln!(out, "<a id=\"{}\"></a>", f.name())?;
        writeln!(out)?;
        writeln!(out, "## {}", f.name())?;
        writeln!(out)?;
        writeln!(out, "Package `{}`.", f.package())?;
        writeln!(out)?;
        let comment = file_comment(file);
        if !comment.is_empty() {
            writeln!(out, "{}", block(&comment))?;
            writeln!(out)?;
        }
        if !f.service.is_empty() {
            writeln!(out, "### Services")?;
            writeln!(out)?;
            for (i, s) in f.service.iter().enumerate() {
                self.write_service(out, file, s, &[FILE_SERVICE, index(i)])?;
            }
        }
        let messages: Vec<_> = all_messages(f)
            .into_iter()
            .filter(|m| !is_map_entry(m.item))
            .collect();
        if !messages.is_empty() {
            writeln!(out, "### Messages")?;
            writeln!(out)?;
            for m in &messages {
                self.write_message(out, file, m)?;
            }
        }
        let enums = all_enums(f);
        if !enums.is_empty() {
            writeln!(out, "### Enums")?;
            writeln!(out)?;
            for e in &enums {
                write_enum(out, file, e)?;
            }
        }
        Ok(())
    }

    fn write_service(
        &self,
        out: &mut String,
        file: &File<'_>,
        s: &ServiceDescriptorProto,
        path: &[i32],
    ) -> fmt::Result {
        let package = file.proto.package();
        writeln!(out, "<a id=\"{}\"></a>", anchor(package, s.name()))?;
        writeln!(out)?;
        writeln!(out, "#### {}", s.name())?;
        writeln!(out)?;
        let deprecated = s.options.as_ref().is_some_and(|o| o.deprecated());
        write_description(out, &file.comment(path), deprecated)?;
        if s.method.is_empty() {
            writeln!(out, "No RPCs.")?;
            return writeln!(out);
        }
        writeln!(out, "| RPC | Request | Response | Description |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        for (i, m) in s.method.iter().enumerate() {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let request = format!(
                "{}{}",
                stream(m.client_streaming()),
                self.type_link(package, m.input_type())
            );
            let response = format!(
                "{}{}",
                stream(m.server_streaming()),
                self.type_link(package, m.output_type())
            );
            let mut method_path = path.to_vec();
            method_path.extend([SERVICE_METHOD, index(i)]);
            let deprecated = m.options.as_ref().is_some_and(|o| o.deprecated());
            writeln!(
                out,
                "| `{}` | {request} | {response} | {} |",
                m.name(),
                cell(&file.comment(&method_path), deprecated)
            )?;
        }
        writeln!(out)
    }

    fn write_message(
        &self,
        out: &mut String,
        file: &File<'_>,
        m: &Decl<'_, DescriptorProto>,
    ) -> fmt::Result {
        let package = file.proto.package();
        let proto3 = file.proto.syntax() == "proto3";
        writeln!(out, "<a id=\"{}\"></a>", anchor(package, &m.local))?;
        writeln!(out)?;
        writeln!(out, "#### {}", m.local)?;
        writeln!(out)?;
        let deprecated = m.item.options.as_ref().is_some_and(|o| o.deprecated());
        write_description(out, &file.comment(&m.path), deprecated)?;
        if m.item.field.is_empty() {
            writeln!(out, "No fields.")?;
            return writeln!(out);
        }
        writeln!(out, "| Field | Type | Label | Description |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        for (i, field) in m.item.field.iter().enumerate() {
            let mut path = m.path.clone();
            path.extend([MESSAGE_FIELD, index(i)]);
            let (ty, label) = self.field_type_and_label(package, m.item, field, proto3);
            let deprecated = field.options.as_ref().is_some_and(|o| o.deprecated());
            writeln!(
                out,
                "| `{}` | {ty} | {label} | {} |",
                field.name(),
                cell(&file.comment(&path), deprecated)
            )?;
        }
        writeln!(out)
    }

    /// The type column and the label column of a field.
    fn field_type_and_label(
        &self,
        package: &str,
        message: &DescriptorProto,
        field: &FieldDescriptorProto,
        proto3: bool,
    ) -> (String, String) {
        let map_entry = (field.label() == Label::Repeated)
            .then(|| self.map_entries.get(field.type_name()))
            .flatten();
        if let Some(entry) = map_entry {
            let part = |number: i32| {
                entry
                    .field
                    .iter()
                    .find(|f| f.number() == number)
                    .map(|f| self.scalar_or_link(package, f))
                    .unwrap_or_default()
            };
            return (
                format!("map&lt;{}, {}&gt;", part(1), part(2)),
                "map".to_string(),
            );
        }
        let real_oneof = field
            .oneof_index
            .filter(|_| !field.proto3_optional())
            .and_then(|i| message.oneof_decl.get(usize::try_from(i).ok()?));
        let label = match (field.label(), real_oneof) {
            (Label::Repeated, _) => "repeated".to_string(),
            (Label::Required, _) => "required".to_string(),
            (_, Some(oneof)) => format!("oneof `{}`", oneof.name()),
            (Label::Optional, None) if field.proto3_optional() || !proto3 => "optional".to_string(),
            _ => String::new(),
        };
        (self.scalar_or_link(package, field), label)
    }

    /// A field's type: a scalar in code, or a link to the message or enum.
    fn scalar_or_link(&self, package: &str, field: &FieldDescriptorProto) -> String {
        match field.r#type() {
            Type::Message | Type::Enum | Type::Group => self.type_link(package, field.type_name()),
            scalar => {
                let name = scalar.as_str_name().trim_start_matches("TYPE_");
                format!("`{}`", name.to_ascii_lowercase())
            }
        }
    }

    /// A link to a message or enum given by its full name (`.pkg.Name`), named relative to
    /// `package`: to its definition here, to the protobuf reference for well-known types,
    /// else the bare name.
    fn type_link(&self, package: &str, full: &str) -> String {
        if let Some(t) = self.types.get(full) {
            let name = if t.package == package {
                t.local.clone()
            } else {
                t.anchor.clone()
            };
            return format!("[`{name}`](#{})", t.anchor);
        }
        let name = full.trim_start_matches('.');
        match name.strip_prefix("google.protobuf.") {
            Some(wkt) if !wkt.contains('.') => format!(
                "[`{name}`]({WELL_KNOWN_TYPES_URL}#{})",
                wkt.to_ascii_lowercase()
            ),
            _ => format!("`{name}`"),
        }
    }
}

fn write_enum(out: &mut String, file: &File<'_>, e: &Decl<'_, EnumDescriptorProto>) -> fmt::Result {
    writeln!(
        out,
        "<a id=\"{}\"></a>",
        anchor(file.proto.package(), &e.local)
    )?;
    writeln!(out)?;
    writeln!(out, "#### {}", e.local)?;
    writeln!(out)?;
    let deprecated = e.item.options.as_ref().is_some_and(|o| o.deprecated());
    write_description(out, &file.comment(&e.path), deprecated)?;
    writeln!(out, "| Value | Number | Description |")?;
    writeln!(out, "| --- | --- | --- |")?;
    for (i, v) in e.item.value.iter().enumerate() {
        let mut path = e.path.clone();
        path.extend([ENUM_VALUE, index(i)]);
        let deprecated = v.options.as_ref().is_some_and(|o| o.deprecated());
        writeln!(
            out,
            "| `{}` | {} | {} |",
            v.name(),
            v.number(),
            cell(&file.comment(&path), deprecated)
        )?;
    }
    writeln!(out)
}

/// Writes a declaration's comment as paragraphs (nothing when there is none).
fn write_description(out: &mut String, comment: &str, deprecated: bool) -> fmt::Result {
    if deprecated {
        writeln!(out, "**Deprecated.**")?;
        writeln!(out)?;
    }
    if !comment.is_empty() {
        writeln!(out, "{}", block(comment))?;
        writeln!(out)?;
    }
    Ok(())
}

/// The file's own comment: the one before `syntax`, else the one before `package`.
fn file_comment(file: &File<'_>) -> String {
    let syntax = file.comment(&[FILE_SYNTAX]);
    if syntax.is_empty() {
        file.comment(&[FILE_PACKAGE])
    } else {
        syntax
    }
}

/// Every message of a file, nested ones after their parent, with source paths.
fn all_messages(f: &FileDescriptorProto) -> Vec<Decl<'_, DescriptorProto>> {
    fn walk<'a>(
        m: &'a DescriptorProto,
        path: Vec<i32>,
        local: String,
        out: &mut Vec<Decl<'a, DescriptorProto>>,
    ) {
        out.push(Decl {
            item: m,
            path: path.clone(),
            local: local.clone(),
        });
        for (i, n) in m.nested_type.iter().enumerate() {
            let mut p = path.clone();
            p.extend([MESSAGE_NESTED, index(i)]);
            walk(n, p, format!("{local}.{}", n.name()), out);
        }
    }
    let mut out = Vec::new();
    for (i, m) in f.message_type.iter().enumerate() {
        walk(
            m,
            vec![FILE_MESSAGE, index(i)],
            m.name().to_string(),
            &mut out,
        );
    }
    out
}

/// Every enum of a file: top-level ones, then those nested in messages.
fn all_enums(f: &FileDescriptorProto) -> Vec<Decl<'_, EnumDescriptorProto>> {
    let mut out: Vec<Decl<'_, EnumDescriptorProto>> = f
        .enum_type
        .iter()
        .enumerate()
        .map(|(i, e)| Decl {
            item: e,
            path: vec![FILE_ENUM, index(i)],
            local: e.name().to_string(),
        })
        .collect();
    for m in all_messages(f) {
        for (i, e) in m.item.enum_type.iter().enumerate() {
            let mut path = m.path.clone();
            path.extend([MESSAGE_ENUM, index(i)]);
            out.push(Decl {
                item: e,
                path,
                local: format!("{}.{}", m.local, e.name()),
            });
        }
    }
    out
}

fn is_map_entry(m: &DescriptorProto) -> bool {
    m.options.as_ref().is_some_and(|o| o.map_entry())
}

/// `.package.Local`, as descriptors spell type references.
fn full_name(package: &str, local: &str) -> String {
    if package.is_empty() {
        format!(".{local}")
    } else {
        format!(".{package}.{local}")
    }
}

/// The anchor of a declaration: its full name without the leading dot.
fn anchor(package: &str, local: &str) -> String {
    full_name(package, local)
        .trim_start_matches('.')
        .to_string()
}

/// A list position as a source-path element.
fn index(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// A raw comment without the space after `//`, trailing blanks and blank lines at its ends;
/// paragraphs stay separated by one empty line.
fn clean_comment(raw: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in raw.lines() {
        let line = line.strip_prefix(' ').unwrap_or(line).trim_end();
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// The first paragraph of a comment.
fn first_paragraph(comment: &str) -> String {
    comment.split("\n\n").next().unwrap_or_default().to_string()
}

/// A comment as Markdown paragraphs: `<` outside code spans is escaped so that text such
/// as `map<K, V>` is not taken for HTML.
fn block(comment: &str) -> String {
    escape_html(comment)
}

/// A comment on one line: lines joined, paragraphs separated by `<br>`.
fn inline(comment: &str) -> String {
    let paragraphs: Vec<String> = comment
        .split("\n\n")
        .map(|p| escape_html(&p.lines().map(str::trim).collect::<Vec<_>>().join(" ")))
        .collect();
    paragraphs.join("<br>")
}

/// A comment for a table cell: on one line, `|` escaped.
fn cell(comment: &str, deprecated: bool) -> String {
    let text = inline(comment).replace('|', "\\|");
    match (deprecated, text.is_empty()) {
        (false, _) => text,
        (true, true) => "**Deprecated.**".to_string(),
        (true, false) => format!("**Deprecated.** {text}"),
    }
}

/// Escapes `<` outside backtick code spans.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{
        EnumValueDescriptorProto, FieldOptions, MessageOptions, MethodDescriptorProto,
        OneofDescriptorProto, SourceCodeInfo,
    };

    /// Compares the committed `docs/api.md` with a fresh rendering.
    #[test]
    fn committed_reference_is_up_to_date() {
        let fresh = markdown(&descriptor_set().unwrap());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
        let committed = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => panic!(
                "{DOCS_PATH} cannot be read ({e}); generate it with:\n\n    {REGENERATE_COMMAND}\n"
            ),
        };
        if committed == fresh {
            return;
        }
        let mut committed_lines = committed.lines();
        let mut fresh_lines = fresh.lines();
        let mut line = 1;
        let (was, now) = loop {
            match (committed_lines.next(), fresh_lines.next()) {
                (a, b) if a != b => break (a.unwrap_or("(end)"), b.unwrap_or("(end)")),
                (None, None) => break ("(end)", "(end, trailing newline differs)"),
                _ => line += 1,
            }
        };
        panic!(
            "{DOCS_PATH} is out of date with proto/. First difference, line {line}:\n  \
             committed: {was}\n  generated: {now}\nRegenerate it with:\n\n    \
             {REGENERATE_COMMAND}\n"
        );
    }

    #[test]
    fn every_link_has_its_anchor() {
        let text = markdown(&descriptor_set().unwrap());
        let mut missing = Vec::new();
        let mut links = 0;
        for part in text.split("](#").skip(1) {
            let target = part.split(')').next().unwrap();
            links += 1;
            if !text.contains(&format!("<a id=\"{target}\"></a>")) {
                missing.push(target.to_string());
            }
        }
        assert!(links > 200, "only {links} links");
        assert!(missing.is_empty(), "links without anchors: {missing:?}");
    }

    #[test]
    fn rekam_api_is_all_there() {
        let text = markdown(&descriptor_set().unwrap());
        for needle in [
            "## rekam/v1/enrollment.proto",
            "| `CreateEnrollment` | [`CreateEnrollmentRequest`](#rekam.v1.CreateEnrollmentRequest) \
             | [`Enrollment`](#rekam.v1.Enrollment) | Opens an enrollment",
            "| `WatchDevices` | [`WatchDevicesRequest`](#rekam.v1.WatchDevicesRequest) \
             | stream [`DeviceEvent`](#rekam.v1.DeviceEvent) |",
            "| `history` | [`StepRecord`](#rekam.v1.StepRecord) | repeated | Every step that ended, oldest first. |",
            "| `event_time` | [`google.protobuf.Timestamp`](https://protobuf.dev/reference/protobuf/google.protobuf/#timestamp) |  | When it happened. |",
            "| `SEX_FEMALE` | 2 | Perempuan. |",
        ] {
            assert!(text.contains(needle), "missing: {needle}");
        }
        assert!(!text.contains("google/protobuf/timestamp.proto"));
        // The service's multi-paragraph comment stays in paragraphs.
        assert!(text.contains("or, when the send fails, issue a recording receipt and finish the card later.\n\nA step asked out of order"));
    }

    fn field(
        name: &str,
        number: i32,
        label: Label,
        ty: Type,
        type_name: &str,
    ) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(label as i32),
            r#type: Some(ty as i32),
            type_name: (!type_name.is_empty()).then(|| type_name.into()),
            ..Default::default()
        }
    }

    fn location(path: &[i32], leading: &str) -> Location {
        Location {
            path: path.to_vec(),
            leading_comments: Some(leading.into()),
            ..Default::default()
        }
    }

    /// A hand-made file with what the rekam protos do not use (yet): maps, proto3
    /// `optional`, oneofs, nested types, deprecation, client streaming, odd characters.
    fn sample() -> FileDescriptorSet {
        let mut optional = field("nick", 3, Label::Optional, Type::String, "");
        optional.proto3_optional = Some(true);
        optional.oneof_index = Some(1);
        let mut in_oneof = field("text", 4, Label::Optional, Type::String, "");
        in_oneof.oneof_index = Some(0);
        let mut old = field("old", 5, Label::Optional, Type::Int32, "");
        old.options = Some(FieldOptions {
            deprecated: Some(true),
            ..Default::default()
        });
        let entry = DescriptorProto {
            name: Some("TagsEntry".into()),
            field: vec![
                field("key", 1, Label::Optional, Type::String, ""),
                field(
                    "value",
                    2,
                    Label::Optional,
                    Type::Message,
                    ".x.v1.Thing.Inner",
                ),
            ],
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let thing = DescriptorProto {
            name: Some("Thing".into()),
            field: vec![
                field(
                    "tags",
                    1,
                    Label::Repeated,
                    Type::Message,
                    ".x.v1.Thing.TagsEntry",
                ),
                field("kinds", 2, Label::Repeated, Type::Enum, ".x.v1.Thing.Kind"),
                optional,
                in_oneof,
                old,
            ],
            nested_type: vec![
                DescriptorProto {
                    name: Some("Inner".into()),
                    ..Default::default()
                },
                entry,
            ],
            enum_type: vec![EnumDescriptorProto {
                name: Some("Kind".into()),
                value: vec![EnumValueDescriptorProto {
                    name: Some("KIND_UNSPECIFIED".into()),
                    number: Some(0),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            oneof_decl: vec![
                OneofDescriptorProto {
                    name: Some("body".into()),
                    ..Default::default()
                },
                OneofDescriptorProto {
                    name: Some("_nick".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let service = ServiceDescriptorProto {
            name: Some("ThingService".into()),
            method: vec![MethodDescriptorProto {
                name: Some("Upload".into()),
                input_type: Some(".x.v1.Thing".into()),
                output_type: Some(".google.protobuf.Empty".into()),
                client_streaming: Some(true),
                ..Default::default()
            }],
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("x/v1/thing.proto".into()),
            package: Some("x.v1".into()),
            syntax: Some("proto3".into()),
            message_type: vec![thing],
            service: vec![service],
            source_code_info: Some(SourceCodeInfo {
                location: vec![
                    location(&[12], " Things.\n"),
                    location(
                        &[4, 0],
                        " A thing.\n\n Second | paragraph with <b> and `a<b`.\n",
                    ),
                    location(&[4, 0, 2, 0], " Tags by\n name.\n"),
                    location(&[4, 0, 3, 0], " Inside.\n"),
                    location(&[4, 0, 4, 0, 2, 0], " Unknown.\n"),
                    location(&[6, 0, 2, 0], " Uploads things.\n"),
                ],
            }),
            ..Default::default()
        };
        let wkt = FileDescriptorProto {
            name: Some("google/protobuf/empty.proto".into()),
            package: Some("google.protobuf".into()),
            ..Default::default()
        };
        FileDescriptorSet {
            file: vec![wkt, file],
        }
    }

    #[test]
    fn labels_types_and_escapes() {
        let text = markdown(&sample());
        for needle in [
            "- [x/v1/thing.proto](#x/v1/thing.proto): Things.",
            "  - Messages: [Thing](#x.v1.Thing), [Thing.Inner](#x.v1.Thing.Inner)\n",
            "  - Enums: [Thing.Kind](#x.v1.Thing.Kind)\n",
            "| `Upload` | stream [`Thing`](#x.v1.Thing) | [`google.protobuf.Empty`](https://protobuf.dev/reference/protobuf/google.protobuf/#empty) | Uploads things. |",
            "| `tags` | map&lt;`string`, [`Thing.Inner`](#x.v1.Thing.Inner)&gt; | map | Tags by name. |",
            "| `kinds` | [`Thing.Kind`](#x.v1.Thing.Kind) | repeated |  |",
            "| `nick` | `string` | optional |  |",
            "| `text` | `string` | oneof `body` |  |",
            "| `old` | `int32` |  | **Deprecated.** |",
            "A thing.\n\nSecond | paragraph with &lt;b> and `a<b`.\n",
            "<a id=\"x.v1.Thing.Inner\"></a>\n\n#### Thing.Inner\n\nInside.\n\nNo fields.\n",
            "| `KIND_UNSPECIFIED` | 0 | Unknown. |",
        ] {
            assert!(text.contains(needle), "missing: {needle}\n\n{text}");
        }
        assert!(!text.contains("TagsEntry"), "{text}");
        assert!(!text.contains("empty.proto"), "{text}");
        assert_eq!(text, markdown(&sample()), "not deterministic");
    }

    #[test]
    fn comments_are_cleaned() {
        assert_eq!(clean_comment(" a\n  b\n\n\n c \n\n"), "a\n b\n\nc");
        assert_eq!(cell("a | b\nc\n\nd", false), "a \\| b c<br>d");
        assert_eq!(first_paragraph("a\nb\n\nc"), "a\nb");
    }
}
