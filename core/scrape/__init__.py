"""Ray-free crawling core: the SSRF guard, per-host pacing, robots.txt, page fetching, sitemaps and
main-text extraction that crawl actors build on."""
