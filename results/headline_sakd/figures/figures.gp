# figures of results/headline_sakd, drawn by sakd collect from table.csv and layers.csv
set datafile missing 'nan'
set encoding utf8
set terminal svg dynamic noenhanced size 900,540
set output 'accuracy.svg'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "distill.alpha"
set style data yerrorlines
unset style histogram
plot 'accuracy.dat' using 1:2:3 title "distill.init_from_teacher=false", 'accuracy.dat' using 1:4:5 title "distill.init_from_teacher=true"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'accuracy.png'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "distill.alpha"
set style data yerrorlines
unset style histogram
plot 'accuracy.dat' using 1:2:3 title "distill.init_from_teacher=false", 'accuracy.dat' using 1:4:5 title "distill.init_from_teacher=true"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'firing.svg'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "distill.alpha"
set style data yerrorlines
unset style histogram
plot 'firing.dat' using 1:2:3 title "distill.init_from_teacher=false", 'firing.dat' using 1:4:5 title "distill.init_from_teacher=true"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'firing.png'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "distill.alpha"
set style data yerrorlines
unset style histogram
plot 'firing.dat' using 1:2:3 title "distill.init_from_teacher=false", 'firing.dat' using 1:4:5 title "distill.init_from_teacher=true"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'energy.svg'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "distill.alpha"
set style data yerrorlines
unset style histogram
plot 'energy.dat' using 1:2:3 title "distill.init_from_teacher=false", 'energy.dat' using 1:4:5 title "distill.init_from_teacher=true"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'energy.png'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "distill.alpha"
set style data yerrorlines
unset style histogram
plot 'energy.dat' using 1:2:3 title "distill.init_from_teacher=false", 'energy.dat' using 1:4:5 title "distill.init_from_teacher=true"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 1100,540
set output 'firing_layers.svg'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "distill.alpha=0, distill.init_from_teacher=false", 'firing_layers.dat' using 1:5:6 title "distill.alpha=0, distill.init_from_teacher=true", 'firing_layers.dat' using 1:7:8 title "distill.alpha=1, distill.init_from_teacher=false", 'firing_layers.dat' using 1:9:10 title "distill.alpha=1, distill.init_from_teacher=true"
set xtics norotate
set terminal pngcairo noenhanced size 1100,540
set output 'firing_layers.png'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "distill.alpha=0, distill.init_from_teacher=false", 'firing_layers.dat' using 1:5:6 title "distill.alpha=0, distill.init_from_teacher=true", 'firing_layers.dat' using 1:7:8 title "distill.alpha=1, distill.init_from_teacher=false", 'firing_layers.dat' using 1:9:10 title "distill.alpha=1, distill.init_from_teacher=true"
set xtics norotate
