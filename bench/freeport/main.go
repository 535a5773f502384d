// Command freeport prints N TCP ports on 127.0.0.1 that the kernel reports free, one a line,
// so scripts never assume a fixed port. All N are held open until all are chosen, so they
// differ; another program could still take one before the caller binds it.
//
//	freeport -n 3
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	n := flag.Int("n", 1, "how many ports")
	flag.Parse()
	var ls []net.Listener
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "freeport:", err)
			os.Exit(1)
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
}
