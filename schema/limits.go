package schema

// Limits that keep a hostile or broken policy tree from exhausting the loader. Each is named in
// the error a tree over it gets. Aliases are bounded by the YAML decoder: a document whose
// aliases expand to more than 50,000 values is refused.
const (
	// MaxDepth bounds the nesting of mappings and lists in one document. Istio's deepest
	// documents nest about ten levels.
	MaxDepth = 64
	// MaxCUEValues bounds the values of one document of a CUE file, which can reference the same
	// values many times over.
	MaxCUEValues = 100_000
	// MaxDocumentsPerFile bounds the documents of one file; the rest of a file over it is not read.
	MaxDocumentsPerFile = 100_000
)
