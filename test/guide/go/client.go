// The Go client code of /work/shared/integration-guide.md, copied verbatim (Basic Setup, Storing
// Messages, Semantic Search), driven against a real server. Standard library only.
//
// Usage: go run . BASE_URL   (or MEMORY_MESH_URL=...)
// Prints `GO OK` when every step worked; otherwise exits 1 naming the failing step.
// The guide has no Go login: main obtains a token with a plain POST to /v1/auth/login.
// Search is kept exactly as written: it builds the query string WITHOUT URL-encoding.
package main

import (
    "bytes"
    "encoding/json"
    "fmt"
    "io"
    "net/http"
    "time"
)

type MemoryMeshClient struct {
    BaseURL     string
    AccessToken string
    APIKey      string
    HTTPClient  *http.Client
}

func NewMemoryMeshClient(baseURL, accessToken, apiKey string) *MemoryMeshClient {
    return &MemoryMeshClient{
        BaseURL:     baseURL,
        AccessToken: accessToken,
        APIKey:      apiKey,
        HTTPClient: &http.Client{
            Timeout: 30 * time.Second,
        },
    }
}

func (c *MemoryMeshClient) request(method, path string, body interface{}) ([]byte, error) {
    var reqBody io.Reader
    if body != nil {
        jsonData, err := json.Marshal(body)
        if err != nil {
            return nil, err
        }
        reqBody = bytes.NewBuffer(jsonData)
    }

    req, err := http.NewRequest(method, c.BaseURL+path, reqBody)
    if err != nil {
        return nil, err
    }

    req.Header.Set("Content-Type", "application/json")
    if c.AccessToken != "" {
        req.Header.Set("Authorization", "Bearer "+c.AccessToken)
    }
    if c.APIKey != "" {
        req.Header.Set("x-api-key", c.APIKey)
    }

    resp, err := c.HTTPClient.Do(req)
    if err != nil {
        return nil, err
    }
    defer resp.Body.Close()

    if resp.StatusCode >= 400 {
        return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, resp.Status)
    }

    return io.ReadAll(resp.Body)
}

// ---- Guide: Go / Storing Messages ----

type Message struct {
    TenantID       string                 `json:"tenant_id"`
    ConversationID string                 `json:"conversation_id"`
    Role          string                 `json:"role"`
    Content       string                 `json:"content"`
    Importance    *float64               `json:"importance,omitempty"`
    Metadata      map[string]interface{} `json:"metadata,omitempty"`
}

func (c *MemoryMeshClient) StoreMessage(msg Message) (map[string]interface{}, error) {
    data, err := c.request("POST", "/v1/messages", msg)
    if err != nil {
        return nil, err
    }

    var result map[string]interface{}
    if err := json.Unmarshal(data, &result); err != nil {
        return nil, err
    }
    return result, nil
}

// ---- Guide: Go / Semantic Search ----

type SearchParams struct {
    TenantID       string  `json:"tenant_id"`
    Query         string  `json:"query"`
    TopK          int     `json:"top_k,omitempty"`
    ConversationID string `json:"conversation_id,omitempty"`
    MinImportance *float64 `json:"min_importance,omitempty"`
}

type SearchResult struct {
    Results []struct {
        ID       string  `json:"id"`
        Content  string  `json:"content"`
        Score    float64 `json:"score"`
        Role     string  `json:"role"`
    } `json:"results"`
}

func (c *MemoryMeshClient) Search(params SearchParams) (*SearchResult, error) {
    query := fmt.Sprintf(
        "tenant_id=%s&query=%s&top_k=%d",
        params.TenantID,
        params.Query,
        params.TopK,
    )
    if params.ConversationID != "" {
        query += "&conversation_id=" + params.ConversationID
    }

    data, err := c.request("GET", "/v1/memory/search?"+query, nil)
    if err != nil {
        return nil, err
    }

    var result SearchResult
    if err := json.Unmarshal(data, &result); err != nil {
        return nil, err
    }
    return &result, nil
}
