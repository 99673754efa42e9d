#pragma once
// A fresh directory under the system temp dir, removed with its contents when
// the object goes away (kept when ADCLICK_KEEP_TEST_DIRS is set).

#include <string>

namespace adclick::testutil {

class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "adclick");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace adclick::testutil
