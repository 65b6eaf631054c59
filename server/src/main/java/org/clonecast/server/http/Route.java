package org.clonecast.server.http;

/**
 * Answers requests under one path prefix. Runs on the HTTP server's blocking executor, so it may
 * read the database or the disk.
 */
@FunctionalInterface
public interface Route {
  /**
   * @throws BadRequestException, NotFoundException, ConflictException: turned into 400/404/409
   */
  Reply handle(Request request) throws Exception;
}
