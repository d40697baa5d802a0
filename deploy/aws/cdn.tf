# CloudFront in front of the ALB (primary only; a global service, it outlives
# a regional outage and its origin name fails over to the standby's ALB).
# The web client's hashed assets (/assets/*) are cached for a year; everything
# else, the API, the WebSocket and the HTML pages, goes to the origin uncached
# with every viewer header but Host.

data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_origin_request_policy" "all_viewer_except_host" {
  name = "Managed-AllViewerExceptHostHeader"
}

data "aws_cloudfront_response_headers_policy" "security" {
  name = "Managed-SecurityHeadersPolicy"
}

resource "aws_cloudfront_distribution" "main" {
  # checkov:skip=CKV_AWS_68: the WAF is on the ALB (waf.tf), which admits only this distribution (prefix list and secret origin header), so every request meets it once.
  # checkov:skip=CKV_AWS_310: origin failover is done by the origin's Route 53 failover record (dns.tf), which, unlike a CloudFront origin group, also fails over POSTs.
  # checkov:skip=CKV2_AWS_47: the Log4j (AMR) rule group guards Java services; Croupier is Rust, and the ALB's ACL has the common and known-bad-inputs groups.
  # checkov:skip=CKV_AWS_374: players may come from anywhere; a geo restriction is a legal decision for the operator, not a default.
  # checkov:skip=CKV_AWS_305: the origin answers / itself (the lobby); there is no S3 index document to name.
  # checkov:skip=CKV2_AWS_46: the origin is the ALB, not S3; the logs bucket is only a logging target.
  count           = local.primary ? 1 : 0
  enabled         = true
  is_ipv6_enabled = true
  comment         = local.name
  aliases         = [var.domain_name]
  price_class     = var.cloudfront_price_class
  http_version    = "http2and3"

  origin {
    origin_id   = "alb"
    domain_name = local.origin_domain
    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "https-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = 60
      origin_keepalive_timeout = 60
    }
    custom_header {
      name  = "X-Origin-Verify"
      value = local.origin_header
    }
  }

  # The API, the pages, the WebSocket: never cached.
  default_cache_behavior {
    target_origin_id           = "alb"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer_except_host.id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security.id
    compress                   = true
  }

  # The web client's assets: content-hashed names, cached at the edge.
  ordered_cache_behavior {
    path_pattern               = "/assets/*"
    target_origin_id           = "alb"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security.id
    compress                   = true
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = aws_acm_certificate_validation.edge[0].certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  logging_config {
    bucket          = aws_s3_bucket.logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }

  depends_on = [aws_s3_bucket_ownership_controls.logs]
}
