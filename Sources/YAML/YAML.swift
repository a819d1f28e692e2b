// A small document layer over the system's libyaml.
//
// libyaml (Debian libyaml-dev) does the lexing and parsing; the distribution ships its security
// fixes. This target turns libyaml's event stream into a tree of `YAMLNode`s, each carrying the
// line and column where it starts, and enforces the limits a document from an untrusted share
// needs (bytes, depth, nodes after alias expansion) while it parses, not afterwards.
//
//   YAMLNode.swift     the tree: scalars (with their style), mappings, sequences, marks
//   YAMLParser.swift   libyaml events → tree, with limits, anchors and duplicate-key checks
//   YAMLScalars.swift  typed reading of scalars (int, double, bool, null, string)
//   YAMLWriter.swift   the tree → block-style YAML text
//   YAMLFile.swift     reading a document from disk without following symlinks or overreading
