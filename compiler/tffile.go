package compiler

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// tfFile is an emitted Terraform file as a list of top-level blocks, each
// held in its own hclwrite.File. hclwrite's formatter aligns arguments only
// within a block, so formatting blocks separately gives the same bytes as
// formatting the whole file, and lets large deployments format on every
// core: formatting is most of the cost of a big compile.
type tfFile struct {
	blocks []*hclwrite.File
}

// block appends a top-level block and returns its body.
func (f *tfFile) block(typeName string, labels []string) *hclwrite.Body {
	file := hclwrite.NewEmptyFile()
	f.blocks = append(f.blocks, file)
	return file.Body().AppendNewBlock(typeName, labels).Body()
}

// render formats every block (File.Bytes runs hclwrite's formatter) and
// joins them with one blank line between blocks.
func (f *tfFile) render() []byte {
	out := make([][]byte, len(f.blocks))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(f.blocks) {
		workers = len(f.blocks)
	}
	var wg sync.WaitGroup
	next := make(chan int, len(f.blocks))
	for i := range f.blocks {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = bytes.TrimRight(f.blocks[i].Bytes(), "\n")
			}
		}()
	}
	wg.Wait()
	return append(bytes.Join(out, []byte("\n\n")), '\n')
}
