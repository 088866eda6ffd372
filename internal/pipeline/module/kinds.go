package module

import "github.com/reprieve/reprieve/internal/pipeline"

// The built-in module kinds, a table per file, are registered with the
// pipeline runtime when this package is imported.
func init() {
	for _, kinds := range [][]*pipeline.Kind{
		diskKinds, execKinds, fileKinds, flowKinds, generatorKinds,
		httpKinds, retryKinds, stdoutKinds, tcpKinds, tubeKinds,
	} {
		for _, k := range kinds {
			pipeline.Register(k)
		}
	}
}
