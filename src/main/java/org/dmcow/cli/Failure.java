/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A command that failed, with a message that names the file once ({@code PATH: reason}) when a
 * file is the cause, the reason in the system's words ("no such file or directory").
 */
final class Failure extends Exception {
    private static final long serialVersionUID = 1L;
    /** FileNotFoundException's message: {@code PATH (Reason)}. */
    private static final Pattern PATH_AND_REASON = Pattern.compile("(.*) \\((.+)\\)");

    private final transient Path path;

    Failure(Path path, String reason) {
        super(path + ": " + reason);
        this.path = path;
    }

    Failure(String message) {
        super(message);
        this.path = null;
    }

    /** The file the failure is about, or null. */
    Path path() {
        return path;
    }

    /** {@code e} from an operation on {@code path}; the exception's own file wins when it names one. */
    static Failure of(Path path, IOException e) {
        if (e instanceof FileSystemException f && f.getFile() != null) {
            return new Failure(Path.of(f.getFile()), reason(e));
        }
        return new Failure(path, reason(e));
    }

    /** The system's reason for {@code e}, without the path Java puts in some messages. */
    static String reason(IOException e) {
        if (e instanceof FileSystemException f) {
            if (f.getReason() != null) {
                return systemWords(f.getReason());
            }
            return e instanceof NoSuchFileException ? "no such file or directory"
                    : e instanceof AccessDeniedException ? "permission denied"
                    : e instanceof FileAlreadyExistsException ? "file exists"
                    : e instanceof NotDirectoryException ? "not a directory"
                    : e instanceof DirectoryNotEmptyException ? "directory not empty"
                    : "I/O error";
        }
        String message = e.getMessage();
        if (message == null || message.isBlank()) {
            return "I/O error";
        }
        Matcher m = PATH_AND_REASON.matcher(message);
        if (e instanceof FileNotFoundException && m.matches()) {
            return systemWords(m.group(2));
        }
        return systemWords(message);
    }

    /** strerror's "Is a directory" as a reason after a colon: "is a directory" (acronyms kept). */
    private static String systemWords(String reason) {
        if (reason.length() > 1 && Character.isUpperCase(reason.charAt(0)) && Character.isLowerCase(reason.charAt(1))) {
            return Character.toLowerCase(reason.charAt(0)) + reason.substring(1);
        }
        return reason;
    }
}
