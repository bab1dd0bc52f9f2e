// Test driver for client.go (not from the guide).
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

var step = "start"

func begin(name string) {
	step = name
	fmt.Fprintf(os.Stderr, "[go] %s\n", name)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "GO FAILED at step '%s': %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func postJSON(url string, body interface{}) (int, map[string]interface{}) {
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		fail("%v", err)
	}
	defer resp.Body.Close()
	var out map[string]interface{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func main() {
	base := os.Getenv("MEMORY_MESH_URL")
	if len(os.Args) > 1 {
		base = os.Args[1]
	}
	if base == "" {
		base = "http://localhost:8000"
	}
	base = strings.TrimRight(base, "/")
	time.AfterFunc(90*time.Second, func() { fail("timed out") })

	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	n := "go" + hex.EncodeToString(buf)
	email := n + "@example.com"

	begin("register (plain POST)")
	if status, body := postJSON(base+"/v1/auth/register", map[string]string{"email": email, "username": n, "password": "SecurePass123"}); status != 201 {
		fail("HTTP %d: %v", status, body)
	}
	begin("login (plain POST)")
	status, auth := postJSON(base+"/v1/auth/login", map[string]string{"email": email, "password": "SecurePass123"})
	token, _ := auth["access_token"].(string)
	if status != 200 || token == "" {
		fail("HTTP %d: %v", status, auth)
	}

	client := NewMemoryMeshClient(base, token, "")

	begin("StoreMessage")
	message := Message{
		TenantID:       "my-app",
		ConversationID: "user-123",
		Role:           "user",
		Content:        "I need help with Go programming",
	}
	result, err := client.StoreMessage(message)
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("Stored message: %v\n", result)
	id, _ := result["id"].(string)
	if id == "" {
		fail("no id in %v", result)
	}

	begin("StoreMessage (importance + metadata)")
	importance := 0.8
	second, err := client.StoreMessage(Message{
		TenantID: "my-app", ConversationID: "user-123", Role: "assistant",
		Content: "Goroutines and channels are the heart of Go concurrency", Importance: &importance,
		Metadata: map[string]interface{}{"source": "go"},
	})
	if err != nil {
		fail("%v", err)
	}
	if second["importance"] != 0.8 {
		fail("importance not stored: %v", second)
	}

	begin("Search (guide as written: query string not URL-encoded, \"Go programming help\")")
	// Known defect of the guide's Go Search: it puts the query in the URL unencoded, so Go sends
	// "GET /v1/memory/search?...&query=Go programming help&top_k=10 HTTP/1.1"; that request line
	// is invalid HTTP and Bun's parser answers 505 before the app sees it. Proposed fix for the
	// guide: build the query with url.Values (searchEncoded below). We check both.
	if _, err := client.Search(SearchParams{TenantID: "my-app", Query: "Go programming help", TopK: 10}); err != nil {
		fmt.Printf("GUIDE DEFECT (as written): %v\n", err)
	} else {
		fmt.Println("guide's Search as written succeeded")
	}
	begin("Search with the query URL-encoded (the guide's proposed fix)")
	deadline := time.Now().Add(30 * time.Second)
	for {
		results, err := searchEncoded(client, SearchParams{
			TenantID: "my-app",
			Query:    "Go programming help",
			TopK:     10,
		})
		if err != nil {
			fail("%v", err)
		}
		found := false
		for _, r := range results.Results {
			fmt.Printf("Score: %.3f - %s\n", r.Score, r.Content)
			if r.ID == id {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			fail("stored message never appeared in search results: %+v", results)
		}
		time.Sleep(200 * time.Millisecond)
	}

	fmt.Println("GO OK")
}

// searchEncoded is the guide's Search with its one defect fixed: the query string is encoded.
func searchEncoded(c *MemoryMeshClient, params SearchParams) (*SearchResult, error) {
	q := url.Values{}
	q.Set("tenant_id", params.TenantID)
	q.Set("query", params.Query)
	q.Set("top_k", fmt.Sprint(params.TopK))
	if params.ConversationID != "" {
		q.Set("conversation_id", params.ConversationID)
	}
	data, err := c.request("GET", "/v1/memory/search?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var result SearchResult
	if err := json.Unmarshal(data, &result); err != nil {
		return nil, err
	}
	return &result, nil
}
