exec(`git checkout ${branch}`, cb);
child_process.exec("rm -rf " + dir);
const out = execSync(`convert ${input} out.png`);
cp.exec(cmd + " --force");
