package publisher

import (
	"encoding/json"
	"net/http"
)

func (p *Publisher) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		serving := p.current != nil
		p.mu.Unlock()
		if !serving {
			http.Error(w, "no snapshot published yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, p.Status())
	})
	mux.HandleFunc("GET /history", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, p.History())
	})
	mux.Handle("GET /metrics", p.metrics.handler())
	mux.HandleFunc("POST /hooks/git", p.handleHook)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
