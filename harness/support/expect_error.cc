#include "llmk/testing/expect_error.h"

#include <typeinfo>

#include "llmk/core.h"

namespace llmk::testing {

::testing::AssertionResult ThrowsInvalidArgument(const char* statement_text,
                                                 const std::function<void()>& statement,
                                                 const std::vector<std::string>& must_mention) {
  try {
    statement();
  } catch (const llmk::InvalidArgument& e) {
    const std::string message = e.what();
    for (const std::string& word : must_mention) {
      if (message.find(word) == std::string::npos) {
        return ::testing::AssertionFailure()
               << statement_text << " threw llmk::InvalidArgument as it should, but its message\n"
               << "  \"" << message << "\"\n  does not mention \"" << word
               << "\" (the message must name the argument and the shapes involved)";
      }
    }
    return ::testing::AssertionSuccess();
  } catch (const llmk::NotImplemented& e) {
    return ::testing::AssertionFailure() << statement_text << " threw " << e.what();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure()
           << statement_text << " should throw llmk::InvalidArgument but threw "
           << typeid(e).name() << ": " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure()
           << statement_text << " should throw llmk::InvalidArgument but threw a non-exception";
  }
  return ::testing::AssertionFailure()
         << statement_text << " should throw llmk::InvalidArgument but returned normally";
}

}  // namespace llmk::testing
