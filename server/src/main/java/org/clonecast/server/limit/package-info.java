/**
 * Bounds on what unauthenticated peers can make the daemon do (docs/security.md, "Bounded
 * resources"): a pure {@link org.clonecast.server.limit.TokenBucket} driven by an injected clock,
 * and a {@link org.clonecast.server.limit.RateLimiter} that keeps one bucket per client address (a
 * bounded number of them) behind one bucket for everyone.
 */
package org.clonecast.server.limit;
