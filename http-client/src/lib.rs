//! Minimal HTTP/1.1 client for molotov: pre-rendered requests, httparse responses, keep-alive over glommio.
