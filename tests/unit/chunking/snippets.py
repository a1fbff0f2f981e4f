"""One small, idiomatic source file per language: a class with two methods and a free
function. Line numbers in the tests refer to these exact texts, so edit with care."""

from __future__ import annotations

PYTHON = '''\
import json


class HttpClient:
    """Sends requests."""

    def __init__(self, base_url):
        self.base_url = base_url

    @retry(times=3)
    def send(self, request):
        body = json.dumps(request)
        return self._post(self.base_url, body)


def fetch(url):
    return HttpClient(url).send({})
'''

JAVASCRIPT = '''\
import { retry } from "./retry.js";

export class HttpClient {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  async send(request) {
    const body = JSON.stringify(request);
    return retry(() => fetch(this.baseUrl, { body }));
  }
}

export function fetchJson(url) {
  return new HttpClient(url).send({});
}

const parse = (text) => JSON.parse(text);
'''

TYPESCRIPT = '''\
import { retry } from "./retry";

export interface Request {
  url: string;
}

export class HttpClient {
  constructor(private readonly baseUrl: string) {}

  // Sends with retries.
  async send(request: Request): Promise<string> {
    const res = await retry(() => fetch(this.baseUrl + request.url));
    return res.text();
  }
}

export function fetchJson<T>(url: string): Promise<T> {
  return new HttpClient(url).send({ url }).then(JSON.parse);
}
'''

TSX = '''\
import React from "react";

export class Greeter extends React.Component<{ name: string }> {
  greet(): string {
    return `Hello ${this.props.name}`;
  }

  render() {
    return <div className="greeting">{this.greet()}</div>;
  }
}

export function App() {
  return <Greeter name="world" />;
}
'''

GO = '''\
package server

import "net/http"

// Server serves HTTP.
type Server struct {
	Addr string
	mux  *http.ServeMux
}

// Start begins listening.
func (s *Server) Start() error {
	return http.ListenAndServe(s.Addr, s.mux)
}

func (s Server) Name() string {
	return "server:" + s.Addr
}

func New(addr string) *Server {
	return &Server{Addr: addr, mux: http.NewServeMux()}
}
'''

JAVA = '''\
package com.example.http;

import java.io.IOException;

public class HttpClient {
    private final String baseUrl;

    public HttpClient(String baseUrl) {
        this.baseUrl = baseUrl;
    }

    @Override
    public String send(Request request) throws IOException {
        String body = request.toJson();
        return post(baseUrl, body);
    }
}

interface Transport {
    String post(String url, String body);
}
'''

RUST = '''\
use std::fmt;

/// An HTTP server.
#[derive(Debug)]
pub struct Server {
    addr: String,
}

impl Server {
    pub fn new(addr: &str) -> Self {
        Server { addr: addr.to_string() }
    }

    pub fn start(&self) -> Result<(), String> {
        println!("listening on {}", self.addr);
        Ok(())
    }
}

pub fn run(addr: &str) {
    Server::new(addr).start().unwrap();
}
'''

C = '''\
#include <stdlib.h>

#define BUF_SIZE 1024

typedef struct {
    char *data;
    size_t len;
} buffer_t;

int buffer_init(buffer_t *buf) {
    buf->data = malloc(BUF_SIZE);
    buf->len = 0;
    return buf->data != NULL;
}

void buffer_free(buffer_t *buf) {
    free(buf->data);
    buf->len = 0;
}
'''

CPP = '''\
#include <string>

namespace net {

class HttpClient {
public:
    explicit HttpClient(std::string base) : base_(std::move(base)) {}

    std::string send(const std::string& request) {
        std::string body = base_ + request;
        return body;
    }

private:
    std::string base_;
};

int fetch(const char* url) {
    HttpClient client(url);
    return client.send("").size();
}

}  // namespace net
'''

CSHARP = '''\
using System;

namespace Example.Http
{
    public class HttpClientWrapper
    {
        private readonly string _baseUrl;

        public HttpClientWrapper(string baseUrl)
        {
            _baseUrl = baseUrl;
        }

        public string Send(string request)
        {
            var body = _baseUrl + request;
            return body;
        }
    }

    public static class Helpers
    {
        public static string Fetch(string url) => new HttpClientWrapper(url).Send("");
    }
}
'''

RUBY = '''\
require "json"

class HttpClient
  attr_reader :base_url

  def initialize(base_url)
    @base_url = base_url
  end

  def send_request(request)
    body = JSON.dump(request)
    post(body)
  end
end

def fetch(url)
  HttpClient.new(url).send_request({})
end
'''

PHP = '''\
<?php

namespace App\\Http;

class HttpClient
{
    private string $baseUrl;

    public function __construct(string $baseUrl)
    {
        $this->baseUrl = $baseUrl;
    }

    public function send(array $request): string
    {
        $body = json_encode($request);
        return $this->post($body);
    }
}

function fetch(string $url): string
{
    return (new HttpClient($url))->send([]);
}
'''

KOTLIN = '''\
package com.example.http

import java.io.IOException

class HttpClient(private val baseUrl: String) {
    private var timeout: Int = 30

    fun send(request: Request): String {
        val body = request.toJson()
        return post(baseUrl, body)
    }

    fun close() {
        println("closed")
    }
}

fun fetch(url: String): String {
    return HttpClient(url).send(Request())
}
'''
