import Foundation

/// Reads a secret from standard input; on a terminal, without echoing it.
enum SecretInput {
    static func read(prompt: String) -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            return (readLine(strippingNewline: true) ?? "").trimmingCharacters(in: .whitespaces)
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return (readLine(strippingNewline: true) ?? "").trimmingCharacters(in: .whitespaces)
    }
}
